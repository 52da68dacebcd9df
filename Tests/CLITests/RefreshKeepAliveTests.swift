import Foundation
import SendcloudTesting
import TestSupport
import Testing

/// `refresh --all` and the refresher behaviour of DESIGN §5, through the built binary: keep-alive of idle refresh
/// tokens (`--max-age`) and accounts backing off after failures.
@Suite("refresh --all: keep-alive and backoff")
struct RefreshKeepAliveTests {
    static let clientID = "keepalive-client"
    static let clientSecret = "keepalive-secret"

    @Test("--max-age renews a refresh token idle for longer (default 7d) and only that one; 0 turns it off")
    func keepAlive() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { server in
            for name in ["idle", "recent"] {
                try await cli.addRefreshAccount(
                    name,
                    server: server,
                    clientID: Self.clientID,
                    secret: Self.clientSecret
                )
                try await cli.succeed(["token", name])  // a valid access token, for an hour
            }
            let eightDaysAgo = Date().addingTimeInterval(-8 * 24 * 3600).timeIntervalSince1970
            _ = try await cli.tamper("UPDATE account SET refreshed_at = \(eightDaysAgo) WHERE name = 'idle'")
            server.resetStats()
            let off = try #require(try await cli.succeed(["refresh", "--all", "--max-age", "0", "--json"]).jsonObject)
            #expect((off["refreshed"] as? [Any])?.isEmpty == true)
            #expect(server.stats.refreshGrants == 0)
            let on = try #require(try await cli.succeed(["refresh", "--all", "--json"]).jsonObject)
            let names = ((on["refreshed"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
            #expect(names == ["idle"])
            #expect(server.stats.refreshGrants == 1)
            let again = try #require(try await cli.succeed(["refresh", "--all", "--json"]).jsonObject)
            #expect((again["refreshed"] as? [Any])?.isEmpty == true, "the renewed account is still due")
            #expect(server.stats.refreshGrants == 1)
        }
    }

    @Test("a failed refresh backs off: show says when the next attempt is, and --all skips it until then")
    func backoffVisibleAndHonoured() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { server in
            try await cli.addRefreshAccount("acme", server: server, clientID: Self.clientID, secret: Self.clientSecret)
            server.setPermanentFault(.internalServerError)
            let failed = try await cli.vaultRun(["refresh", "--all"])
            #expect(failed.status != 0)
            let shown = try #require(try await cli.succeed(["show", "acme", "--json"]).jsonObject)
            #expect(shown["consecutive_failures"] as? Int == 1)
            #expect(shown["next_attempt_at"] as? String != nil)
            server.setPermanentFault(nil)
            server.resetStats()
            let skipped = try await cli.succeed(["refresh", "--all"])
            #expect(skipped.stdout.contains("Refreshed 0"))
            #expect(server.stats.tokenRequests == 0)
            try await cli.succeed(["refresh", "acme"])  // named: not held back
            let healed = try #require(try await cli.succeed(["show", "acme", "--json"]).jsonObject)
            #expect(healed["consecutive_failures"] as? Int == 0)
            #expect(healed["next_attempt_at"] is NSNull)
        }
    }
}
