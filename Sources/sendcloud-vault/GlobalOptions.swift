import ArgumentParser
import CredentialVault
import CredentialVaultSQLite
import Foundation
import Logging

/// Options every command takes (also after the subcommand name).
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The vault file (env SENDCLOUD_VAULT; default $XDG_DATA_HOME/sendcloud-vault/vault.sqlite).",
            valueName: "path"
        )
    )
    var vault: String?

    @Flag(name: .long, help: "Machine-readable JSON on stdout; errors as JSON on stderr.")
    var json = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Unlock with the base64 key in this file (env SENDCLOUD_VAULT_KEY_FILE; or the key itself in "
                + "SENDCLOUD_VAULT_KEY). Must be mode 0600.",
            valueName: "path"
        )
    )
    var keyFile: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Unlock with the passphrase in this file, '-' for stdin (env SENDCLOUD_VAULT_PASSPHRASE_FILE; or the "
                + "passphrase itself in SENDCLOUD_VAULT_PASSPHRASE). Otherwise a no-echo prompt on a terminal.",
            valueName: "path"
        )
    )
    var passphraseFile: String?

    /// The vault path: `--vault`, `SENDCLOUD_VAULT`, `$XDG_DATA_HOME/…`, `~/.local/share/…`.
    var vaultPath: String {
        if let vault { return vault }
        if let env = SecretInput.plainEnvironment("SENDCLOUD_VAULT") { return env }
        let dataHome =
            SecretInput.plainEnvironment("XDG_DATA_HOME")
            ?? ((SecretInput.plainEnvironment("HOME") ?? NSHomeDirectory()) + "/.local/share")
        return dataHome + "/sendcloud-vault/vault.sqlite"
    }

    /// Library logging goes to stderr at warning level; nothing the libraries log contains a secret.
    var logger: Logger {
        var logger = Logger(label: "sendcloud-vault") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel =
            SecretInput.plainEnvironment("SENDCLOUD_VAULT_LOG_LEVEL").flatMap { Logger.Level(rawValue: $0) } ?? .warning
        return logger
    }

    /// `--key-file`, else `SENDCLOUD_VAULT_KEY_FILE`.
    var keyFilePath: String? { keyFile ?? SecretInput.plainEnvironment("SENDCLOUD_VAULT_KEY_FILE") }

    /// The key-file key given by `--key-file`, `SENDCLOUD_VAULT_KEY_FILE` or `SENDCLOUD_VAULT_KEY`, if any.
    func givenKey(_ input: SecretInput) throws -> KeyFileKey? {
        if let path = keyFilePath {
            return try parseKey(input.file(path, what: "vault key", requirePrivate: true), from: path)
        }
        if let text = SecretInput.environment("SENDCLOUD_VAULT_KEY") {
            return try parseKey(text, from: "SENDCLOUD_VAULT_KEY")
        }
        return nil
    }

    /// The passphrase given by `--passphrase-file`, `SENDCLOUD_VAULT_PASSPHRASE_FILE` or
    /// `SENDCLOUD_VAULT_PASSPHRASE`, if any.
    func givenPassphrase(_ input: SecretInput) throws -> SecureBytes? {
        if let path = passphraseFile ?? SecretInput.plainEnvironment("SENDCLOUD_VAULT_PASSPHRASE_FILE") {
            return try input.file(path, what: "passphrase", requirePrivate: path != "-")
        }
        return SecretInput.environment("SENDCLOUD_VAULT_PASSPHRASE")
    }

    private func parseKey(_ text: SecureBytes, from source: String) throws -> KeyFileKey {
        do { return try KeyFileKey(base64Text: text) } catch {
            throw CLIError(
                exitCode: ExitStatus.unlockFailed,
                kind: "wrong-key",
                message: "\(source) does not hold a vault key (base64 of 32 bytes)"
            )
        }
    }

    static let unlockSourcesHelp =
        "--key-file, SENDCLOUD_VAULT_KEY_FILE, SENDCLOUD_VAULT_KEY, --passphrase-file, "
        + "SENDCLOUD_VAULT_PASSPHRASE_FILE or SENDCLOUD_VAULT_PASSPHRASE"

    /// Refuses (64) more than one secret from standard input among the unlock sources and `paths`, before anything
    /// is read.
    func requireAtMostOneStdin(_ paths: [String?]) throws {
        let unlockPath =
            keyFilePath ?? passphraseFile ?? SecretInput.plainEnvironment("SENDCLOUD_VAULT_PASSPHRASE_FILE")
        if ([unlockPath] + paths).filter({ $0 == "-" }).count > 1 {
            throw CLIError.usage("only one secret can come from standard input ('-')")
        }
    }

    /// The unlock secret: the first source present is the only one tried; a prompt only on a terminal.
    func unlockSecret(_ input: SecretInput) throws -> UnlockSecret {
        if let key = try givenKey(input) { return .key(key) }
        if let passphrase = try givenPassphrase(input) { return .passphrase(passphrase) }
        guard SecretInput.isInteractive else {
            throw CLIError.configuration("no way to unlock the vault without a terminal: use \(Self.unlockSourcesHelp)")
        }
        return .passphrase(try SecretInput.prompt("Vault passphrase: "))
    }

    /// Opens the store at ``vaultPath`` (it must exist and be private) and unlocks it.
    func openVault(_ input: SecretInput = SecretInput()) async throws -> CredentialVault {
        let store = try SQLiteCredentialStore(path: vaultPath)
        let secret = try unlockSecret(input)
        return try await CredentialVault.open(store, with: secret, logger: logger)
    }
}
