import ArgumentParser
import CredentialVault
import Foundation
import Logging
import SendcloudVaultService

/// Options every command takes (also after the subcommand name).
struct GlobalOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The vault: a file, or postgres://USER@HOST:PORT/DB?schema=…&sslmode=… (no password in it) (env "
                + "SENDCLOUD_VAULT; default $XDG_DATA_HOME/sendcloud-vault/vault.sqlite).",
            valueName: "location"
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

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Unlock with the base64 key this command prints (run with /bin/sh -c, stdin closed, killed after 30 s or "
                + "SENDCLOUD_VAULT_COMMAND_TIMEOUT seconds; env SENDCLOUD_VAULT_KEY_COMMAND). Tried after the key file "
                + "and SENDCLOUD_VAULT_KEY. The command line is not secret: put no secret in it.",
            valueName: "command"
        )
    )
    var keyCommand: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Unlock with the passphrase this command prints, one trailing newline stripped (env "
                + "SENDCLOUD_VAULT_PASSPHRASE_COMMAND). Tried after the passphrase file and "
                + "SENDCLOUD_VAULT_PASSPHRASE.",
            valueName: "command"
        )
    )
    var passphraseCommand: String?

    /// The vault location as given: `--vault`, `SENDCLOUD_VAULT`, `$XDG_DATA_HOME/…`, `~/.local/share/…`.
    var vaultPath: String { vault ?? VaultLocation.environmentText() }

    /// Library logging goes to stderr at warning level; nothing the libraries log contains a secret.
    var logger: Logger {
        var logger = Logger(label: "sendcloud-vault") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel =
            SecretInput.plainEnvironment("SENDCLOUD_VAULT_LOG_LEVEL").flatMap { Logger.Level(rawValue: $0) } ?? .warning
        return logger
    }

    /// `--key-file`, else `SENDCLOUD_VAULT_KEY_FILE`.
    var keyFilePath: String? { VaultUnlockSource.keyFilePath(keyFile) }

    /// The key-file key given by `--key-file`, `SENDCLOUD_VAULT_KEY_FILE`, `SENDCLOUD_VAULT_KEY`, `--key-command` or
    /// `SENDCLOUD_VAULT_KEY_COMMAND`, if any.
    func givenKey(_ input: SecretInput) throws -> KeyFileKey? {
        guard let source = VaultUnlockSource.keySource(keyFile: keyFile, keyCommand: keyCommand),
            case .key(let key) = try input.unlockSecret(from: source)
        else { return nil }
        return key
    }

    /// The passphrase given by `--passphrase-file`, `SENDCLOUD_VAULT_PASSPHRASE_FILE`, `SENDCLOUD_VAULT_PASSPHRASE`,
    /// `--passphrase-command` or `SENDCLOUD_VAULT_PASSPHRASE_COMMAND`, if any.
    func givenPassphrase(_ input: SecretInput) throws -> SecureBytes? {
        guard
            let source = VaultUnlockSource.passphraseSource(
                passphraseFile: passphraseFile,
                passphraseCommand: passphraseCommand
            ),
            case .passphrase(let passphrase) = try input.unlockSecret(from: source)
        else { return nil }
        return passphrase
    }

    static let unlockSourcesHelp = VaultUnlockSource.sourcesDescription

    /// Refuses (64) more than one secret from standard input among the unlock sources and `paths`, before anything
    /// is read.
    func requireAtMostOneStdin(_ paths: [String?]) throws {
        let unlockPath = VaultUnlockSource.first(
            keyFile: keyFile,
            keyCommand: keyCommand,
            passphraseFile: passphraseFile,
            passphraseCommand: passphraseCommand
        )?.path
        if ([unlockPath] + paths).filter({ $0 == "-" }).count > 1 {
            throw CLIError.usage("only one secret can come from standard input ('-')")
        }
    }

    /// The unlock secret (the library's order and checks, ``VaultUnlockSource``): the first source present is the
    /// only one tried; a prompt only on a terminal.
    func unlockSecret(_ input: SecretInput) throws -> UnlockSecret {
        if let source = VaultUnlockSource.first(
            keyFile: keyFile,
            keyCommand: keyCommand,
            passphraseFile: passphraseFile,
            passphraseCommand: passphraseCommand
        ) {
            return try input.unlockSecret(from: source)
        }
        guard SecretInput.isInteractive else {
            throw CLIError.configuration("no way to unlock the vault without a terminal: use \(Self.unlockSourcesHelp)")
        }
        return .passphrase(try SecretInput.prompt("Vault passphrase: "))
    }

    /// The vault's location (``vaultPath``, classified): a file, or a PostgreSQL URL.
    func vaultLocation() throws -> VaultLocation { try VaultLocation(vaultPath) }

    /// Opens the store at ``vaultPath`` (it must exist; a file must be private) and unlocks it.
    func openVault(_ input: SecretInput = SecretInput()) async throws -> CredentialVault {
        let location = try vaultLocation()
        let store = try await location.openStore(create: false, logger: logger)
        let secret = try unlockSecret(input)
        return try await CredentialVault.open(store, with: secret, logger: logger)
    }
}
