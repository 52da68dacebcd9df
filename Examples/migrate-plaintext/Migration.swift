import CredentialVault
import CredentialVaultPostgres
import Foundation
import Logging
import SendcloudVaultService

/// The migration: read, validate every entry (``PlaintextEntry``), check every name against the vault, then write
/// all of them in one transaction (or, dry, nothing).
struct Migration {
    /// A failure that stops the migration, with its exit code; the message names no secret.
    struct Failure: Error {
        var message: String
        var exitCode: Int32
    }

    var source: PlaintextSource
    var replace: Bool
    var dryRun: Bool
    var defaultTokenURL: String

    func run(opening location: VaultLocation, unlock secret: UnlockSecret, logger: Logger) async throws {
        let entries = try source.rows()
        guard !entries.isEmpty else {
            throw Failure(message: "\(source) holds no rows; nothing was stored", exitCode: 65)
        }
        var problems: [PlaintextEntry.Problem] = []
        var valid: [PlaintextEntry.Validated] = []
        switch PlaintextEntry.validateAll(entries, defaultTokenURL: defaultTokenURL) {
        case .success(let validated): valid = validated
        case .failure(let failure): problems = failure.problems
        }

        let store = try await location.openStore(create: false, logger: logger)
        do {
            let vault = try await CredentialVault.open(store, with: secret, logger: logger)
            let existing = Set(try await vault.accounts().map(\.name))
            if !replace {
                for entry in valid where existing.contains(entry.imported.account.name) {
                    problems.append(
                        PlaintextEntry.Problem(
                            index: entry.index,
                            name: entry.imported.account.name,
                            message: "an account of this name exists in the vault (give --replace to replace it)"
                        )
                    )
                }
            }
            guard problems.isEmpty else {
                for problem in problems.sorted(by: { $0.index < $1.index }) {
                    MigratePlaintext.report(problem.description)
                }
                throw Failure(
                    message: "\(problems.count) of \(entries.count) rows have problems; nothing was stored",
                    exitCode: 65
                )
            }
            print("plaintext: \(source) (\(entries.count) rows)")
            print("vault: \(location)")
            for entry in valid {
                print(Self.line(entry, replacing: existing.contains(entry.imported.account.name)))
            }
            if dryRun {
                print("dry run: \(valid.count) accounts would be sealed; nothing was written")
            } else {
                // One transaction: every account is stored, or none is.
                let summary = try await vault.importAccounts(valid.map(\.imported), replace: replace)
                print(
                    "sealed \(valid.count) accounts (\(summary.added.count) new, \(summary.replaced.count) replaced)"
                )
                print(
                    "The plaintext still holds every secret in clear. Check the vault (sendcloud-vault list), then "
                        + source.deletionAdvice + "."
                )
            }
        } catch {
            await (store as? PostgresCredentialStore)?.close()
            throw error
        }
        await (store as? PostgresCredentialStore)?.close()
    }

    /// One summary line: name, mode, new or replacing, the secret fields stored (names only) and the expiry.
    private static func line(_ entry: PlaintextEntry.Validated, replacing: Bool) -> String {
        let (account, secrets) = (entry.imported.account, entry.imported.secrets)
        var fields = ["client secret"]
        if secrets.refreshToken != nil { fields.append("refresh token") }
        if let expiry = account.accessTokenExpiresAt {
            fields.append("access token (expires \(expiry.formatted(.iso8601)))")
        }
        var text = "  \(account.name)  \(account.mode.rawValue)  \(replacing ? "replace" : "new")  "
        text += fields.joined(separator: ", ")
        if let note = entry.note { text += "; \(note)" }
        return text
    }
}
