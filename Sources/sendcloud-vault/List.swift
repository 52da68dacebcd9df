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

    /// Accounts read and authenticated at a time: what `list` holds in memory, whatever the number of accounts.
    static let pageSize = 500

    func run() async throws {
        let vault = try await global.openVault()
        if global.json {
            // One array, written a page at a time (the same bytes as one encoding of the whole array). If a later page
            // cannot be read (a tampered row: exit 65), the array is left open: what was written is not valid JSON,
            // so no parser takes the first pages for the whole list, even in a script that ignores the status.
            var first = true
            FileHandle.standardOutput.write(Data("[".utf8))
            try await forEachPage(vault) { page in
                var data = Data()
                for account in page {
                    if !first { data.append(UInt8(ascii: ",")) }
                    first = false
                    data.append(Output.jsonData(Output.accountJSON(account)))
                }
                FileHandle.standardOutput.write(data)
            }
            FileHandle.standardOutput.write(Data("]\n".utf8))
            return
        }
        // Two passes, a page at a time: the column widths (and whether any account has backoff columns), then
        // the lines.
        let now = Date()
        var layout = TableLayout()
        var backoff = false
        var count = 0
        try await forEachPage(vault) { page in
            count += page.count
            backoff = backoff || page.contains { $0.nextAttemptAt != nil || $0.consecutiveFailures > 0 }
            for account in page { layout.measure(Self.row(account, now: now)) }
        }
        guard count > 0 else {
            print(status.map { "No accounts with status \($0.rawValue)." } ?? "No accounts.")
            return
        }
        let header = ["NAME", "MODE", "STATUS", "EXPIRES", "LAST REFRESH"] + ["NEXT ATTEMPT", "FAILURES"]
        layout.measure(header)
        let columns = backoff ? header.count : 5
        print(layout.line(Array(header.prefix(columns))))
        try await forEachPage(vault) { page in
            let lines = page.map { layout.line(Array(Self.row($0, now: now).prefix(columns))) }
            print(lines.joined(separator: "\n"))
        }
    }

    /// One line of the table, every column: name, mode, status, expiry, last refresh, next attempt, failures (the
    /// last two are printed only when some account has them).
    static func row(_ a: Account, now: Date) -> [String] {
        [
            a.name.rawValue, a.mode.rawValue, Output.health(a).rawValue, Output.expiry(a, now: now),
            a.refreshedAt.map { Output.relative($0, now: now) } ?? "never",
            a.nextAttemptAt.map { Output.relative($0, now: now) } ?? "-", String(a.consecutiveFailures),
        ]
    }

    /// Calls `body` with each page of accounts (those of `--status`, if given), ``pageSize`` read at a time.
    private func forEachPage(_ vault: CredentialVault, _ body: ([Account]) throws -> Void) async throws {
        var after: AccountName?
        while true {
            let page = try await vault.accounts(after: after, limit: Self.pageSize)
            let kept = page.filter { account in status.map { Output.health(account) == $0 } ?? true }
            if !kept.isEmpty { try body(kept) }
            guard page.count == Self.pageSize, let last = page.last else { return }
            after = last.name
        }
    }
}
