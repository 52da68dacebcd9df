import CredentialVault
import CredentialVaultSQLite
import Foundation
import Logging
import TestSupport
import Testing

/// `list` reads accounts a page at a time (BENCHMARKS.md, "Scale"): over several pages its table stays aligned to
/// the widest row of any page, and `--json` is one array in name order, as when it was built whole.
@Suite("list over many pages")
struct ListPagingTests {
    /// Creates the harness's vault and, through the library (much faster than 1,234 `add` runs), `count` accounts:
    /// `t-0000` … in three modes, and one name of 100 characters that sorts last, so in the last page.
    static func manyAccounts(_ count: Int) async throws -> (CLIHarness, [String]) {
        let cli = try CLIHarness()
        try await cli.initVault()
        let keyText = try Data(contentsOf: URL(fileURLWithPath: cli.keyFile))
        let vault = try await CredentialVault.open(
            SQLiteCredentialStore(path: cli.vault),
            with: .key(try KeyFileKey(base64Text: keyText.withUnsafeBytes { SecureBytes(copying: $0) })),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
        var names = (0..<count - 1).map { String(format: "t-%04d", $0) }
        names.append("z" + String(repeating: "long", count: 24) + "abc")
        for (index, name) in names.enumerated() {
            let mode = [AccountMode.clientCredentials, .refreshToken, .basic][index % 3]
            try await vault.addAccount(
                Account(
                    name: try AccountName(name),
                    mode: mode,
                    clientID: "client-\(index)",
                    tokenURL: "https://account.sendcloud.com/oauth2/token"
                ),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: "secret-\(index)"),
                    refreshToken: mode == .refreshToken ? SecureBytes(utf8: "rt-\(index)") : nil
                )
            )
        }
        return (cli, names)
    }

    @Test("1,234 accounts: every one listed once in name order, columns aligned to the longest name of the last page")
    func tableOverPages() async throws {
        let (cli, names) = try await Self.manyAccounts(1234)
        let lines = try await cli.succeed(["list"]).stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 1 + names.count, "\(lines.prefix(3))")
        let nameWidth = names.map(\.count).max()!
        #expect(lines[0].hasPrefix("NAME" + String(repeating: " ", count: nameWidth - 4 + 2) + "MODE"))
        for (line, name) in zip(lines.dropFirst(), names) {
            #expect(line.hasPrefix(name + String(repeating: " ", count: nameWidth - name.count + 2)), "\(line)")
            let mode = line.dropFirst(nameWidth + 2).prefix { $0 != " " }
            #expect(["client-credentials", "refresh-token", "basic"].contains(String(mode)), "\(line)")
        }
    }

    @Test("--json over pages is one array in name order; --status filters across pages")
    func jsonOverPages() async throws {
        let (cli, names) = try await Self.manyAccounts(1234)
        let listed = try #require(try await cli.succeed(["list", "--json"]).jsonArray)
        #expect(listed.compactMap { $0["name"] as? String } == names)
        #expect(listed.allSatisfy { $0["health"] as? String == "ok" })
        #expect(try await cli.succeed(["list", "--json", "--status", "failing"]).stdout == "[]\n")
        #expect(try await cli.succeed(["list", "--status", "failing"]).stdout == "No accounts with status failing.\n")
    }
}
