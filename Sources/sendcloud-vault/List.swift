import ArgumentParser
import CredentialVault
import Foundation

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List accounts: name, mode, status, access token expiry, last refresh (and any backoff).",
        discussion: """
            STATUS is reauth-required (run 'sendcloud-vault login NAME'), failing (the last refresh failed: \
            'show NAME' has the error) or ok. --status keeps the accounts in one of them, for alerting scripts: \
            'sendcloud-vault list --status reauth-required --json' prints an array, empty when all is well. In \
            --json, "status" is the stored status (ok or reauth-required) and "health" the one shown here.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Only accounts with this status: ok, failing or reauth-required.")
    var status: AccountHealth?

    func run() async throws {
        let vault = try await global.openVault()
        let accounts = try await vault.accounts().filter { account in
            status.map { Output.health(account) == $0 } ?? true
        }
        if global.json {
            Output.printJSON(accounts.map { Output.accountJSON($0) })
            return
        }
        guard !accounts.isEmpty else {
            print(status.map { "No accounts with status \($0.rawValue)." } ?? "No accounts.")
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
                a.name.rawValue, a.mode.rawValue, Output.health(a).rawValue, Output.expiry(a, now: now),
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
