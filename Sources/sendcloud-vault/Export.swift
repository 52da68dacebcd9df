import ArgumentParser
import CredentialVault
import Foundation
import SendcloudVaultService

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a sealed backup of every account (metadata, status, generation, secrets) to FILE.",
        discussion: """
            The backup is sealed under its own secret, not the vault's: a key from --backup-key-file (base64 of 32 \
            bytes, mode 0600) or a new random one written to --generate-backup-key-file (0600, never overwritten); \
            else a passphrase from --backup-passphrase-file, SENDCLOUD_VAULT_BACKUP_PASSPHRASE, or asked twice on \
            the terminal (Argon2id, --kdf). Without any of these and without a terminal, export fails (78).

            The file is one authenticated unit with a format version; 'import' restores it into any vault, whatever \
            its key or store. It is written atomically (a temporary file in the same directory, synced, then \
            renamed), mode 0600. An existing FILE is refused (73) unless --force; a directory that group or others \
            can write (and that is not sticky, as /tmp is) is refused (78). The snapshot waits for refreshes in \
            flight to commit.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var backupSecret: BackupSecretOptions

    @Argument(help: "The backup file to write.")
    var file: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Seal under a new random backup key, written (base64) to this file (mode 0600, never overwritten).",
            valueName: "path"
        )
    )
    var generateBackupKeyFile: String?

    @Option(name: .long, help: "Argon2id strength for a backup passphrase: interactive (default), moderate, sensitive.")
    var kdf: KDFChoice = .interactive

    @Flag(name: .long, help: "Replace FILE if it exists.")
    var force = false

    func run() async throws {
        if generateBackupKeyFile != nil && backupSecret.isGiven {
            throw CLIError.usage("--generate-backup-key-file makes the backup key: give no other backup secret")
        }
        try global.requireAtMostOneStdin(backupSecret.paths)
        try refuseOverwritingInputs()
        let input = SecretInput()
        let vault = try await global.openVault(input)
        let secret: BackupSecret
        if let generateBackupKeyFile {
            let key = KeyFileKey.generate()
            try KeyFileWriter.create(key, at: generateBackupKeyFile)
            secret = .key(key)
        } else {
            secret = try backupSecret.read(input, confirm: true)
        }
        let summary: BackupSummary
        do {
            summary = try await vault.exportBackup(
                to: file,
                secret: secret,
                limits: kdf.limits,
                overwrite: force
            )
        } catch {
            if let generateBackupKeyFile { unlink(generateBackupKeyFile) }
            if let error = error as? VaultError, error.code == .alreadyExists {
                throw CLIError(
                    exitCode: ExitStatus.cannotCreate,
                    kind: error.code.description,
                    message: "\(error.message); nothing was written (replace it with --force)"
                )
            }
            throw error
        }
        let kdfText: Any = summary.secretKind == .passphrase ? kdf.limits.description : NSNull()
        if global.json {
            Output.printJSON(
                [
                    "file": file, "accounts": summary.accounts.count, "names": summary.accounts.map(\.rawValue),
                    "secret": summary.secretKind.description, "kdf": kdfText, "bytes": summary.byteCount,
                    "format_version": VaultBackup.formatVersion, "key_file": generateBackupKeyFile ?? NSNull(),
                    "exported_at": Output.iso8601(summary.exportedAt),
                ] as [String: Any]
            )
        } else {
            print(
                "Exported \(summary.accounts.count) account(s) to \(Output.inert(file)) "
                    + "(sealed under a backup \(summary.secretKind == .passphrase ? "passphrase" : "key file"))."
            )
            if let generateBackupKeyFile {
                print(
                    "Backup key written to \(Output.inert(generateBackupKeyFile)) (keep it apart from the backup; "
                        + "it opens it)."
                )
            }
        }
    }

    /// Refuses (64) a FILE that is one of the command's own inputs — the vault file (or its `-wal`/`-shm`), the file
    /// that unlocks it, the backup key or passphrase file, the key file to generate — so that `--force` cannot
    /// replace the vault or the only copy of a key with the backup. Compared by path and by file identity (a hard
    /// link or symbolic link to an input counts).
    private func refuseOverwritingInputs() throws {
        var inputs: [String] = []
        let location = try global.vaultLocation()
        if case VaultLocation.file(let path) = location { inputs += [path, path + "-wal", path + "-shm"] }
        inputs += [
            global.keyFilePath,
            global.passphraseFile ?? SecretInput.plainEnvironment("SENDCLOUD_VAULT_PASSPHRASE_FILE"),
        ]
        .compactMap { $0 }
        inputs += backupSecret.paths.compactMap { $0 }
        if let generateBackupKeyFile { inputs.append(generateBackupKeyFile) }
        let target = Self.identity(file)
        let targetPath = URL(fileURLWithPath: file).standardizedFileURL.resolvingSymlinksInPath().path
        for input in inputs where input != "-" {
            let samePath = URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath().path == targetPath
            if samePath || (target != nil && Self.identity(input) == target) {
                throw CLIError.usage(
                    "the backup file \(Output.inert(file)) is one of this command's inputs (\(Output.inert(input))); "
                        + "write the backup elsewhere"
                )
            }
        }
    }

    /// The device and inode of the file at `path` (symbolic links followed), if it exists.
    private static func identity(_ path: String) -> [UInt64]? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return [UInt64(st.st_dev), UInt64(st.st_ino)]
    }
}
