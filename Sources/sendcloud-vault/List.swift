import ArgumentParser
import CredentialVault
import Foundation

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List accounts: name, mode, status, access token expiry, last refresh (and any backoff)."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let vault = try await global.openVault()
        let accounts = try await vault.accounts()
        if global.json {
            Output.printJSON(accounts.map { Output.accountJSON($0) })
            return
        }
        guard !accounts.isEmpty else {
            print("No accounts.")
            return
        }
        let now = Date()
        // The backoff columns only when some account is backing off or has failed.
        let backoff = accounts.contains { $0.nextAttemptAt != nil || $0.consecutiveFailures > 0 }
        var rows = [
            ["NAME", "MODE", "STATUS", "EXPIRES", "LAST REFRESH"] + (backoff ? ["NEXT ATTEMPT", "FAILURES"] : [])
        ]
        for a in accounts {
            var row = [
                a.name.rawValue, a.mode.rawValue, a.status.rawValue,
                a.accessTokenExpiresAt.map { Output.relative($0, now: now) } ?? "-",
                a.refreshedAt.map { Output.relative($0, now: now) } ?? "never",
            ]
            if backoff {
                row += [a.nextAttemptAt.map { Output.relative($0, now: now) } ?? "-", String(a.consecutiveFailures)]
            }
            rows.append(row)
        }
        print(Output.table(rows))
    }
}
