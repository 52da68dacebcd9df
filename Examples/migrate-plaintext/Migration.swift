import CredentialVault
import CredentialVaultPostgres
import Foundation
import Logging
import SendcloudVaultService

/// The migration: read, validate every row, check every name against the vault, then write (or, dry, don't).
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

    /// How long to wait for an account's lock (a refresh in flight elsewhere) before replacing it.
    static let lockTimeout = Duration.seconds(60)

    func run(opening location: VaultLocation, unlock secret: UnlockSecret, logger: Logger) async throws {
        let rows = try source.rows()
        guard !rows.isEmpty else {
            throw Failure(message: "\(source) holds no rows; nothing was stored", exitCode: 65)
        }
        var problems: [RowProblem] = []
        var valid: [ValidatedRow] = []
        var seen: Set<AccountName> = []
        for row in rows {
            do throws(RowProblem) {
                let validated = try row.validated(defaultTokenURL: defaultTokenURL)
                guard seen.insert(validated.account.name).inserted else {
                    throw RowProblem(
                        position: row.position,
                        name: validated.account.name,
                        problem: "the name appears in an earlier row too"
                    )
                }
                valid.append(validated)
            } catch {
                problems.append(error)
            }
        }

        let store = try await location.openStore(create: false, logger: logger)
        do {
            let vault = try await CredentialVault.open(store, with: secret, logger: logger)
            let existing = Set(try await vault.accounts().map(\.name))
            if !replace {
                for row in valid where existing.contains(row.account.name) {
                    problems.append(
                        RowProblem(
                            position: row.position,
                            name: row.account.name,
                            problem: "an account of this name exists in the vault (give --replace to replace it)"
                        )
                    )
                }
            }
            guard problems.isEmpty else {
                for problem in problems.sorted(by: { $0.position < $1.position }) {
                    MigratePlaintext.report(problem.description)
                }
                throw Failure(
                    message: "\(problems.count) of \(rows.count) rows have problems; nothing was stored",
                    exitCode: 65
                )
            }
            print("plaintext: \(source) (\(rows.count) rows)")
            print("vault: \(location)")
            for row in valid {
                print(Self.line(row, replacing: existing.contains(row.account.name)))
            }
            if dryRun {
                print("dry run: \(valid.count) accounts would be sealed; nothing was written")
            } else {
                try await write(valid, existing: existing, into: vault)
                let replaced = valid.filter { existing.contains($0.account.name) }.count
                print("sealed \(valid.count) accounts (\(valid.count - replaced) new, \(replaced) replaced)")
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

    /// Writes every row. The vault has no transaction across accounts: if a write fails, the accounts this run
    /// added are removed again; those it replaced already stay replaced (their old tokens may have been refreshed
    /// since, so writing them back could resurrect a spent refresh token) and are listed.
    private func write(_ rows: [ValidatedRow], existing: Set<AccountName>, into vault: CredentialVault) async throws {
        var added: [AccountName] = []
        var replaced: [AccountName] = []
        for row in rows {
            do {
                if existing.contains(row.account.name) {
                    try await replaceAccount(row, in: vault)
                    replaced.append(row.account.name)
                } else {
                    try await vault.addAccount(row.account, secrets: row.secrets)
                    added.append(row.account.name)
                }
            } catch {
                var undone: [AccountName] = []
                for name in added.reversed() where (try? await vault.removeAccount(named: name)) != nil {
                    undone.append(name)
                }
                let detail = (error as? VaultError)?.message ?? "\(type(of: error))"
                var message = "storing row \(row.position) ('\(row.account.name)') failed: \(detail); "
                message += "removed again the \(undone.count) account(s) this run had added"
                if undone.count < added.count {
                    let left = added.filter { !undone.contains($0) }.map(\.rawValue).joined(separator: ", ")
                    message += " (except: \(left))"
                }
                if !replaced.isEmpty {
                    message += "; already replaced: \(replaced.map(\.rawValue).joined(separator: ", "))"
                }
                throw Failure(
                    message: message,
                    exitCode: (error as? VaultError).map { MigratePlaintext.exitCode(for: $0.code) } ?? 1
                )
            }
        }
    }

    /// Replaces an existing account under its lock (a refresh in flight elsewhere finishes first), by
    /// compare-and-swap on the generation read under it. Status, errors and backoff are reset.
    private func replaceAccount(_ row: ValidatedRow, in vault: CredentialVault) async throws {
        try await vault.withAccountLock(row.account.name, timeout: Self.lockTimeout) {
            let current = try await vault.account(named: row.account.name)
            var account = row.account
            account.createdAt = current.createdAt
            _ = try await vault.updateAccount(account, secrets: row.secrets, expectedGeneration: current.generation)
        }
    }

    /// One summary line: name, mode, new or replacing, the secret fields stored (names only) and the expiry.
    private static func line(_ row: ValidatedRow, replacing: Bool) -> String {
        var fields = ["client secret"]
        if row.secrets.refreshToken != nil { fields.append("refresh token") }
        if let expiry = row.account.accessTokenExpiresAt {
            fields.append("access token (expires \(expiry.formatted(.iso8601)))")
        }
        var text = "  \(row.account.name)  \(row.account.mode.rawValue)  \(replacing ? "replace" : "new")  "
        text += fields.joined(separator: ", ")
        if let note = row.note { text += "; \(note)" }
        return text
    }
}
