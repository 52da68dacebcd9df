import ArgumentParser
import CredentialVault
import Foundation

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List accounts: name, mode, status, access token expiry, last refresh."
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
        var rows = [["NAME", "MODE", "STATUS", "EXPIRES", "LAST REFRESH"]]
        for a in accounts {
            rows.append([
                a.name.rawValue, a.mode.rawValue, a.status.rawValue,
                a.accessTokenExpiresAt.map { Output.relative($0, now: now) } ?? "-",
                a.refreshedAt.map { Output.relative($0, now: now) } ?? "never",
            ])
        }
        print(Output.table(rows))
    }
}
