import ArgumentParser
import CredentialVault

/// Where a backup's own secret comes from (`export`, `import`): `--backup-key-file`, `--backup-passphrase-file`,
/// `SENDCLOUD_VAULT_BACKUP_PASSPHRASE`, else a no-echo prompt on a terminal, else 78. Never the vault's unlock
/// sources: a backup is sealed under a secret of its own.
struct BackupSecretOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The backup key: base64 of 32 bytes in this file, the format of vault key files. Must be mode 0600.",
            valueName: "path"
        )
    )
    var backupKeyFile: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The backup passphrase, in this file ('-' for stdin; mode 0600). Otherwise env "
                + "SENDCLOUD_VAULT_BACKUP_PASSPHRASE, else a no-echo prompt on a terminal.",
            valueName: "path"
        )
    )
    var backupPassphraseFile: String?

    /// `SENDCLOUD_VAULT_BACKUP_PASSPHRASE`: the backup passphrase itself.
    static let passphraseVariable = "SENDCLOUD_VAULT_BACKUP_PASSPHRASE"

    /// The sources in order, for messages.
    static let sourcesDescription = "--backup-key-file, --backup-passphrase-file or \(passphraseVariable)"

    /// Whether a backup-secret option was given on the command line.
    var isGiven: Bool { backupKeyFile != nil || backupPassphraseFile != nil }

    /// The paths that may name standard input, for ``GlobalOptions/requireAtMostOneStdin(_:)``.
    var paths: [String?] { [backupKeyFile, backupPassphraseFile] }

    /// Reads the backup secret from the first source present. With `confirm` (a new backup), a prompted passphrase
    /// is asked twice.
    func read(_ input: SecretInput, confirm: Bool) throws -> BackupSecret {
        if backupKeyFile != nil && backupPassphraseFile != nil {
            throw CLIError.usage("give one of --backup-key-file and --backup-passphrase-file")
        }
        if let path = backupKeyFile {
            let text = try input.file(path, what: "backup key", requirePrivate: true)
            do { return .key(try KeyFileKey(base64Text: text)) } catch {
                throw CLIError(
                    exitCode: ExitStatus.unlockFailed,
                    kind: "wrong-key",
                    message: "\(path) does not hold a backup key (base64 of 32 bytes)"
                )
            }
        }
        if let path = backupPassphraseFile {
            return .passphrase(try input.file(path, what: "backup passphrase", requirePrivate: path != "-"))
        }
        if let value = SecretInput.environment(Self.passphraseVariable) { return .passphrase(value) }
        guard SecretInput.isInteractive else {
            throw CLIError.configuration("no backup secret without a terminal: use \(Self.sourcesDescription)")
        }
        return .passphrase(try SecretInput.prompt("Backup passphrase: ", confirm: confirm))
    }
}
