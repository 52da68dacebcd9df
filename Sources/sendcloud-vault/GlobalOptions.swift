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

    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Log what the libraries do (info level) on stderr; SENDCLOUD_VAULT_LOG=debug|info|notice|warning|error "
                + "sets the level instead. Without either nothing is logged: a failure is reported once, as its message."
        )
    )
    var verbose = false

    /// The vault location as given: `--vault`, `SENDCLOUD_VAULT`, `$XDG_DATA_HOME/…`, `~/.local/share/…`.
    var vaultPath: String { vault ?? VaultLocation.environmentText() }

    /// `SENDCLOUD_VAULT_LOG`: the log level, when set.
    static let logVariable = "SENDCLOUD_VAULT_LOG"

    /// Library logging: off unless `--verbose` (info) or `SENDCLOUD_VAULT_LOG=LEVEL`; then on stderr. A command
    /// reports its own outcome, once; log lines are for finding out why. Nothing the libraries log holds a secret.
    var logger: Logger {
        let level = Self.logLevel(verbose: verbose)
        guard let level else { return Logger(label: "sendcloud-vault") { _ in SwiftLogNoOpLogHandler() } }
        var logger = Logger(label: "sendcloud-vault") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        return logger
    }

    /// The level asked for, or `nil` for no logging. ``validate()`` refuses an unknown `SENDCLOUD_VAULT_LOG` value
    /// (64, naming the levels) before any command runs.
    static func logLevel(verbose: Bool) -> Logger.Level? {
        if let text = SecretInput.plainEnvironment(logVariable) {
            return Logger.Level(rawValue: text.lowercased()) ?? .info
        }
        return verbose ? .info : nil
    }

    func validate() throws {
        if let text = SecretInput.plainEnvironment(Self.logVariable), Logger.Level(rawValue: text.lowercased()) == nil {
            throw ValidationError(
                "\(Self.logVariable)=\(Output.inert(text)) is not a log level: use trace, debug, info, notice, warning, "
                    + "error or critical"
            )
        }
    }

    /// The unlock sources in effect (``VaultUnlockSource/present(keyFile:keyCommand:passphraseFile:passphraseCommand:)``):
    /// the flags given, else the environment's variables.
    var unlockSources: [VaultUnlockSource] {
        VaultUnlockSource.present(
            keyFile: keyFile,
            keyCommand: keyCommand,
            passphraseFile: passphraseFile,
            passphraseCommand: passphraseCommand
        )
    }

    /// The key-file path in effect, if the key source in effect is a key file.
    var keyFilePath: String? {
        guard case .keyFile(let path) = unlockSources.first(where: \.suppliesKey) else { return nil }
        return path
    }

    /// The key given by the first key source in effect (``unlockSources``), if any.
    func givenKey(_ input: SecretInput) throws -> KeyFileKey? {
        guard let source = unlockSources.first(where: \.suppliesKey),
            case .key(let key) = try input.unlockSecret(from: source)
        else { return nil }
        return key
    }

    /// The passphrase given by the first passphrase source in effect (``unlockSources``), if any.
    func givenPassphrase(_ input: SecretInput) throws -> SecureBytes? {
        guard let source = unlockSources.first(where: { !$0.suppliesKey }),
            case .passphrase(let passphrase) = try input.unlockSecret(from: source)
        else { return nil }
        return passphrase
    }

    static let unlockSourcesHelp = VaultUnlockSource.sourcesDescription

    /// Refuses (64) more than one secret from standard input among the unlock source and `paths`, before anything
    /// is read.
    func requireAtMostOneStdin(_ paths: [String?]) throws {
        if ([unlockSources.first?.path] + paths).filter({ $0 == "-" }).count > 1 {
            throw CLIError.usage("only one secret can come from standard input ('-')")
        }
    }

    /// The unlock source (the library's order and checks, ``VaultUnlockSource``; a flag beats every variable): the
    /// first present is the only one tried. `nil` means a prompt on a terminal; without one, 78.
    func unlockSource() throws -> VaultUnlockSource? {
        if let source = unlockSources.first { return source }
        guard SecretInput.isInteractive else {
            throw CLIError.configuration("no way to unlock the vault without a terminal: use \(Self.unlockSourcesHelp)")
        }
        return nil
    }

    /// The unlock secret of ``unlockSource()``, or the passphrase asked on the terminal.
    func unlockSecret(_ input: SecretInput, from source: VaultUnlockSource?) throws -> UnlockSecret {
        guard let source else { return .passphrase(try SecretInput.prompt("Vault passphrase: ")) }
        return try input.unlockSecret(from: source)
    }

    /// The vault's location (``vaultPath``, classified): a file, or a PostgreSQL URL.
    func vaultLocation() throws -> VaultLocation { try VaultLocation(vaultPath) }

    /// Opens the store at ``vaultPath`` (it must exist; a file must be private) and unlocks it.
    func openVault(_ input: SecretInput = SecretInput()) async throws -> CredentialVault {
        let location = try vaultLocation()
        let store = try await location.openStore(create: false, logger: logger)
        let source = try unlockSource()
        let secret = try unlockSecret(input, from: source)
        do {
            return try await CredentialVault.open(store, with: secret, logger: logger)
        } catch let error as VaultError where error.code == .wrongKey {
            // Name the source that was tried (never its content), so that a variable left in a profile is found.
            let tried = source?.origin ?? "the passphrase entered"
            throw CLIError(
                exitCode: ExitStatus.unlockFailed,
                kind: error.code.description,
                message: "\(tried) does not open the vault at \(location)"
            )
        }
    }
}
