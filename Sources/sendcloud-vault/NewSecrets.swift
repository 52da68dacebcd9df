import ArgumentParser
import CredentialVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Argon2id strength for a new passphrase slot.
enum KDFChoice: String, ExpressibleByArgument, CaseIterable {
    case interactive, moderate, sensitive

    var limits: KDFLimits {
        switch self {
        case .interactive: .interactive
        case .moderate: .moderate
        case .sensitive: .sensitive
        }
    }
}

/// Where a *new* passphrase comes from (`passwd`, `key add --passphrase`): a file, the environment, a command, then
/// the terminal.
struct NewPassphraseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Read the new passphrase from this file, '-' for stdin (env SENDCLOUD_VAULT_NEW_PASSPHRASE_FILE, or the "
                + "passphrase in SENDCLOUD_VAULT_NEW_PASSPHRASE); otherwise asked twice on the terminal.",
            valueName: "path"
        )
    )
    var newPassphraseFile: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Take the new passphrase from what this command prints (run as --passphrase-command is), when no "
                + "new-passphrase file or variable is given.",
            valueName: "command"
        )
    )
    var newPassphraseCommand: String?

    @Option(name: .long, help: "Argon2id strength for the new passphrase: interactive (default), moderate, sensitive.")
    var kdf: KDFChoice = .interactive

    @Flag(name: .long, help: "Accept a new passphrase shorter than 12 characters without asking.")
    var allowWeakPassphrase = false

    /// The new passphrase, checked by ``PassphraseStrength``.
    func read(_ input: SecretInput) throws -> SecureBytes {
        let passphrase = try readUnchecked(input)
        try PassphraseStrength.check(passphrase, allowWeak: allowWeakPassphrase)
        return passphrase
    }

    private func readUnchecked(_ input: SecretInput) throws -> SecureBytes {
        if let path = newPassphraseFile ?? SecretInput.plainEnvironment("SENDCLOUD_VAULT_NEW_PASSPHRASE_FILE") {
            return try input.file(path, what: "new passphrase", requirePrivate: path != "-")
        }
        if let value = SecretInput.environment("SENDCLOUD_VAULT_NEW_PASSPHRASE") { return value }
        if let newPassphraseCommand, !newPassphraseCommand.isEmpty {
            let command = SecretCommand(
                newPassphraseCommand,
                origin: "--new-passphrase-command",
                timeout: SecretCommand.environmentTimeout
            )
            return try input.commandOutput(command, what: "new passphrase")
        }
        guard SecretInput.isInteractive else {
            throw CLIError.configuration(
                "no new passphrase without a terminal: use --new-passphrase-file, SENDCLOUD_VAULT_NEW_PASSPHRASE_FILE, "
                    + "SENDCLOUD_VAULT_NEW_PASSPHRASE or --new-passphrase-command"
            )
        }
        return try SecretInput.prompt("New vault passphrase: ", confirm: true)
    }
}

/// Writes a new key file: created 0600 with O_EXCL (never overwrites), synced before the vault uses it.
enum KeyFileWriter {
    static func create(_ key: KeyFileKey, at path: String) throws {
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw CLIError(
                exitCode: errno == EEXIST ? ExitStatus.cannotCreate : ExitStatus.failure,
                kind: "cannot-create",
                message: "cannot create the key file \(path): \(reason)"
            )
        }
        defer { close(fd) }
        let ok = key.base64Text().withUnsafeBytes { text in
            write(fd, text.baseAddress!, text.count) == text.count
        }
        guard ok, fsync(fd) == 0 else {
            unlink(path)
            throw CLIError.failure("writing the key file \(path) failed")
        }
    }
}
