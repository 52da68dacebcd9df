import CredentialVault
import Foundation
import SendcloudVaultService

extension Import {
    /// `import --plaintext-json FILE`: the plaintext token list of DESIGN §6 (``PlaintextEntry``) sealed into the
    /// vault. Every entry is validated before anything is written — one bad entry, a name given twice, or (without
    /// `--replace`) a name the vault holds, and nothing is imported (65, or 73 for existing names) — then all are
    /// stored in one transaction. Messages name entries by index and name and fields by name, never a value.
    /// Entries without `token_url` take `--token-url`, else `SENDCLOUD_TOKEN_URL`, else Sendcloud's.
    func importPlaintext(path: String, vault: CredentialVault) async throws {
        let entries: [PlaintextEntry]
        do {
            entries = try PlaintextEntry.entries(jsonFile: path)
        } catch {
            throw CLIError(
                exitCode: error.isUnreadable ? ExitStatus.noInput : ExitStatus.integrity,
                kind: "invalid-plaintext",
                message: "\(error); nothing was imported"
            )
        }
        guard !entries.isEmpty else {
            throw CLIError(
                exitCode: ExitStatus.integrity,
                kind: "invalid-plaintext",
                message: "\(Output.inert(path)) holds no entries; nothing was imported"
            )
        }
        let defaultTokenURL = try OAuthSession.tokenURL(tokenURL)
        let valid: [PlaintextEntry.Validated]
        switch PlaintextEntry.validateAll(entries, defaultTokenURL: defaultTokenURL) {
        case .success(let validated):
            valid = validated
        case .failure(let failure):
            let listed = failure.problems.prefix(Self.problemsListed).map(\.description)
            let more =
                failure.problems.count > listed.count ? ["… and \(failure.problems.count - listed.count) more"] : []
            // Text: one line per problem, then the error; JSON: one message holding them all.
            if !global.json {
                for line in listed + more { Output.stderr("sendcloud-vault: \(Output.inert(line))") }
            }
            throw CLIError(
                exitCode: ExitStatus.integrity,
                kind: "invalid-entry",
                message: ((global.json ? listed + more : []) + [failure.description]).joined(separator: "; ")
            )
        }
        let summary = try await vault.importAccounts(valid.map(\.imported), replace: replace)
        let notes = valid.compactMap { entry in
            entry.note.map { "entry \(entry.index) ('\(entry.imported.account.name)'): \($0)" }
        }
        if global.json {
            Output.printJSON([
                "added": summary.added.map(\.rawValue), "replaced": summary.replaced.map(\.rawValue), "notes": notes,
            ])
        } else {
            print(
                "Imported \(valid.count) account(s) from \(Output.inert(path)) (\(summary.added.count) added, "
                    + "\(summary.replaced.count) replaced)."
            )
            for entry in valid {
                let account = entry.imported.account
                let state = summary.replaced.contains(account.name) ? "replaced" : "added"
                print("  \(account.name)  \(account.mode.rawValue)  \(state)")
            }
            for note in notes { print("  note: \(note)") }
        }
        Output.stderr(
            "The plaintext file still holds every secret in clear. Check the vault (sendcloud-vault list), then "
                + "delete the file and every copy or backup of it: shred -u -- \(Self.shellQuoted(Output.inert(path)))"
        )
    }

    /// `text` in single quotes for a POSIX shell (a `'` written as `'\''`).
    static func shellQuoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// How many entry problems a refused plaintext import lists.
    static let problemsListed = 20
}
