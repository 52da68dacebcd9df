import ArgumentParser
import CredentialVault
import Foundation

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Restore a sealed backup into the vault, or migrate a plaintext JSON token list (--plaintext-json).",
        discussion: """
            A backup (from 'export') opens with its own secret: --backup-key-file, --backup-passphrase-file, \
            SENDCLOUD_VAULT_BACKUP_PASSPHRASE, or a prompt on a terminal (else 78). The whole backup is checked \
            before anything is written: a damaged, truncated or extended file is 65, the wrong backup key or \
            passphrase 77. Accounts keep their status, timestamps, generation and secrets, sealed under this \
            vault's key.

            The import is one transaction: every account is added, or none. An account name that exists already \
            refuses the whole import (73) unless --replace.

            --plaintext-json FILE takes a JSON array of objects with name, mode, client_id, client_secret and \
            optional refresh_token, access_token, expires_at, scope, token_url.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var backupSecret: BackupSecretOptions

    @Argument(help: "The backup file (with --plaintext-json, the JSON file).")
    var file: String

    @Flag(name: .long, help: "Write over accounts that exist already (otherwise an existing name refuses it all, 73).")
    var replace = false

    @Flag(name: .customLong("plaintext-json"), help: "FILE is a plaintext JSON token list to migrate, not a backup.")
    var plaintextJSON = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "With --plaintext-json: the default token URL for entries without token_url.",
            valueName: "url"
        )
    )
    var tokenURL: String?

    func run() async throws {
        if plaintextJSON {
            guard !backupSecret.isGiven else {
                throw CLIError.usage(
                    "--backup-key-file and --backup-passphrase-file apply to a backup, not --plaintext-json"
                )
            }
            let vault = try await global.openVault()
            try await importPlaintext(path: file, vault: vault)
            return
        }
        guard tokenURL == nil else { throw CLIError.usage("--token-url applies to --plaintext-json only") }
        try global.requireAtMostOneStdin(backupSecret.paths)
        let input = SecretInput()
        let vault = try await global.openVault(input)
        let secret = try backupSecret.read(input, confirm: false)
        let backup = try await VaultBackup.read(from: file, secret: secret)
        let summary = try await vault.importAccounts(backup.accounts, replace: replace)
        if backup.accounts.contains(where: { $0.secrets.refreshToken != nil }) {
            // The source vault still holds the same rotating refresh tokens (the location warning cannot see this).
            Output.stderr(
                "The vault the backup came from holds the same refresh tokens: retire it. Only one vault may ever "
                    + "refresh a tenant; the other's next refresh would revoke the tenant's authorization."
            )
        }
        if global.json {
            Output.printJSON(
                [
                    "file": file, "added": summary.added.map(\.rawValue), "replaced": summary.replaced.map(\.rawValue),
                    "exported_at": Output.iso8601(backup.exportedAt),
                ] as [String: Any]
            )
            return
        }
        let total = summary.added.count + summary.replaced.count
        var parts = ["added \(summary.added.count)\(Self.names(summary.added))"]
        if replace { parts.append("replaced \(summary.replaced.count)\(Self.names(summary.replaced))") }
        print(
            "Imported \(total) account(s) from \(Output.inert(file)) (exported \(backup.exportedAt.formatted(.iso8601))): "
                + parts.joined(separator: ", ") + "."
        )
    }

    /// How many names the text summary lists per group (`--json` lists all).
    static let namesListed = 20

    /// ` (a, b, c)`, ` (a, …, t and 980 more)`, or nothing for no names.
    private static func names(_ names: [AccountName]) -> String {
        guard !names.isEmpty else { return "" }
        let listed = names.prefix(namesListed).map { Output.inert($0.rawValue) }.joined(separator: ", ")
        let more = names.count > namesListed ? " and \(names.count - namesListed) more" : ""
        return " (\(listed)\(more))"
    }
}
