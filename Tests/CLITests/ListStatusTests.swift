import Foundation
import SendcloudTesting
import TestSupport
import Testing

/// What `list`, `show` and the root help tell an operator, through the built binary against a real token endpoint:
/// failing accounts look failing, `--status` filters for alerting scripts, expiries read right, `show` prints the
/// scope a request sends, and `--help` carries the exit-code table.
@Suite("list, show and help tell the truth", .serialized)
struct ListStatusTests {
    static let clientID = "list-client"
    static let clientSecret = "list-client-secret-77d2"

    @Test("list: failing and reauth-required accounts show so, --status filters (text and JSON), no expiry for reauth")
    func statusColumnAndFilter() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { server in
            for name in ["good", "failing"] {
                try await cli.addRefreshAccount(
                    name,
                    server: server,
                    clientID: Self.clientID,
                    secret: Self.clientSecret
                )
                try await cli.succeed(["token", name])
            }
            try await cli.addRefreshAccount(
                "gone",
                server: server,
                clientID: Self.clientID,
                secret: Self.clientSecret,
                refreshToken: "rt-never-issued"
            )
            expectFailure(try await cli.vaultRun(["token", "gone"]), 80)
            server.setPermanentFault(
                .oauthError(status: 400, error: "invalid_scope", description: "Not allowed.", hint: "Ask less.")
            )
            expectFailure(try await cli.vaultRun(["refresh", "failing"]), 82)
            server.setPermanentFault(nil)

            let list = try await cli.succeed(["list"]).stdout
            let rows = Dictionary(
                uniqueKeysWithValues: list.split(separator: "\n").dropFirst().map { line in
                    (String(line.split(separator: " ")[0]), String(line))
                }
            )
            #expect(rows["good"]?.contains(" ok ") == true, "\(list)")
            #expect(rows["failing"]?.contains(" failing ") == true, "\(list)")
            #expect(rows["gone"]?.contains(" reauth-required ") == true, "\(list)")
            #expect(rows["gone"]?.contains(" in ") == false, "a reauth-required account shows no expiry:\n\(list)")
            #expect(!list.contains("in 0s"))

            for (status, expected) in [("ok", ["good"]), ("failing", ["failing"]), ("reauth-required", ["gone"])] {
                let json = try #require(try await cli.succeed(["list", "--status", status, "--json"]).jsonArray)
                #expect(json.compactMap { $0["name"] as? String } == expected, "\(status)")
                #expect(json.allSatisfy { $0["health"] as? String == status })
                let text = try await cli.succeed(["list", "--status", status]).stdout
                #expect(text.split(separator: "\n").count == 1 + expected.count, "\(text)")
            }
            try await cli.succeed(["refresh", "failing"])
            let none = try await cli.succeed(["list", "--status", "failing"])
            #expect(none.stdout.contains("No accounts with status failing."))
            #expect(try #require(try await cli.succeed(["list", "--status", "failing", "--json"]).jsonArray).isEmpty)
            expectFailure(try await cli.vaultRun(["list", "--status", "broken"]), 64)
        }
    }

    @Test("an expired access token reads 'expired … ago', never 'in 0s'")
    func expiredTokenWording() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { server in
            try await cli.addRefreshAccount("old", server: server, clientID: Self.clientID, secret: Self.clientSecret)
            try await cli.succeed(["token", "old"])
            // The expiry is authenticated metadata: make it pass through the server, with a short-lived token.
            server.setAccessTokenLifetime(seconds: 1)
            try await cli.succeed(["refresh", "old"])
            try await Task.sleep(for: .seconds(2))
            let list = try await cli.succeed(["list"]).stdout
            #expect(list.contains("expired ") && list.contains(" ago"), "\(list)")
            #expect(!list.contains("in 0s"), "\(list)")
            let show = try await cli.succeed(["show", "old"]).stdout
            #expect(show.contains("(expired "), "\(show)")
        }
    }

    @Test("show prints the scope a token request sends: the default 'api' of client-credentials accounts")
    func showsScopeUsed() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await cli.addAccount("cc", secret: "cc-secret")
        let shown = try await cli.succeed(["show", "cc"]).stdout
        #expect(shown.contains("scopes:") && shown.contains("api (the default)"), "\(shown)")
        let json = try #require(try await cli.succeed(["show", "cc", "--json"]).jsonObject)
        #expect(json["scopes"] is NSNull)
        #expect(json["scope_requested"] as? String == "api")
        try await cli.addAccount("scoped", secret: "s", extra: ["--scope", "api shipping"])
        let scoped = try #require(try await cli.succeed(["show", "scoped", "--json"]).jsonObject)
        #expect(scoped["scope_requested"] as? String == "api shipping")
    }

    @Test("the root --help prints every exit code of the table with its meaning")
    func helpHasExitCodes() async throws {
        let cli = try CLIHarness()
        let help = try await cli.run(["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Exit codes:"))
        for code in [0, 1, 64, 65, 66, 69, 73, 74, 75, 76, 77, 78, 80, 81, 82] {
            #expect(
                help.stdout.split(separator: "\n").contains {
                    $0.trimmingCharacters(in: .whitespaces).hasPrefix("\(code) ")
                },
                "exit code \(code) missing from --help:\n\(help.stdout)"
            )
        }
        #expect(help.stdout.contains("|| exit"))
        // README's table is the same table.
        let readme = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("README.md"),
            encoding: .utf8
        )
        let readmeRows = readme.split(separator: "\n").filter {
            $0.hasPrefix("| ") && $0.dropFirst(2).first?.isNumber == true
        }
        .map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
        .map { "\($0[0]) \($0[1])" }
        let start = try #require(help.stdout.range(of: "Exit codes:"))
        let helpRows = help.stdout[start.upperBound...].split(separator: "\n").map {
            $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(
                of: #"\s+"#,
                with: " ",
                options: .regularExpression
            )
        }.filter { $0.first?.isNumber == true }
        #expect(readmeRows.count == 15)
        for row in readmeRows {
            let code = String(row.prefix { $0.isNumber })
            let helpRow = helpRows.first { $0.hasPrefix(code + " ") }
            #expect(helpRow.map { row.hasPrefix($0) } == true, "README: \(row)\n--help: \(helpRow ?? "missing")")
        }
    }
}
