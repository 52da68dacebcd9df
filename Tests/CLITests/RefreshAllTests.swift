import Foundation
import SendcloudTesting
import TestSupport
import Testing

/// `refresh --all` as cron runs it, through the built binary against a real token endpoint on 127.0.0.1: accounts
/// that need re-authorization are listed and make the exit status 80, an unreachable endpoint stops the run early
/// (69, a few lines), `--quiet` prints nothing on success, and library log lines appear only when asked for.
@Suite("refresh --all tells the truth", .serialized)
struct RefreshAllTests {
    static let clientID = "cron-client"
    static let clientSecret = "cron-client-secret-4e1a"

    /// `count` refresh-token accounts `t01`… at `tokenURL`, imported in one run (their refresh tokens from `server`,
    /// or made up when `server` is nil).
    static func importAccounts(
        _ cli: CLIHarness,
        count: Int,
        tokenURL: String,
        server: FakeSendcloud?
    ) async throws -> [String] {
        let names = (1...count).map { String(format: "t%02d", $0) }
        let entries = names.map { name -> [String: Any] in
            [
                "name": name, "mode": "refresh-token", "client_id": clientID, "client_secret": clientSecret,
                "refresh_token": server?.issueRefreshToken(clientID: clientID) ?? "rt-\(name)-made-up",
                "token_url": tokenURL,
            ]
        }
        let file = try cli.writeFile("tenants.json", try JSONSerialization.data(withJSONObject: entries))
        try await cli.succeed(["import", "--plaintext-json", file])
        return names
    }

    @Test(
        "reauth-required accounts: listed as skipped with the next step, in --json's skipped, exit 80; --allow-reauth 0"
    )
    func reauthRequiredAccountsAreReported() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { server in
            let names = try await Self.importAccounts(cli, count: 5, tokenURL: server.tokenURL, server: server)
            try await cli.succeed(["refresh", "--all"])
            // The merchants disconnect (the server revokes the authorizations); t01 and t02 learn it by refreshing,
            // the others' tokens are not due yet.
            #expect(server.revokeAuthorizations(ofClient: Self.clientID) > 0)
            for name in names.prefix(2) {
                let failed = try await cli.vaultRun(["refresh", name])
                #expect(failed.status == 80)
                #expect(failed.stderr.contains("account '\(name)' needs re-authorization"), "\(failed)")
                #expect(failed.stderr.contains(": run 'sendcloud-vault login \(name)'"), "\(failed)")
            }
            let text = try await cli.vaultRun(["refresh", "--all"])
            #expect(text.status == 80, "\(text)")
            #expect(text.stdout.contains("2 skipped (need re-authorization)"), "\(text)")
            for name in names.prefix(2) {
                #expect(
                    text.stderr.contains(
                        "skipped '\(name)': needs re-authorization: run 'sendcloud-vault login \(name)'"
                    )
                )
            }
            let json = try await cli.vaultRun(["refresh", "--all", "--json"])
            #expect(json.status == 80)
            let object = try #require(json.jsonObject, "\(json)")
            let skipped = try #require(object["skipped"] as? [[String: Any]])
            #expect(skipped.compactMap { $0["name"] as? String } == Array(names.prefix(2)))
            #expect(skipped.allSatisfy { $0["reason"] as? String == "reauth-required" })
            #expect(json.jsonError?["code"] as? Int == 80)
            let allowed = try await cli.vaultRun(["refresh", "--all", "--allow-reauth"])
            #expect(allowed.status == 0, "\(allowed)")
            #expect(allowed.stdout.contains("2 skipped (need re-authorization)"))
        }
    }

    @Test("the token endpoint down: the run stops after 5 unreachable accounts in a row, reports the rest, exits 69")
    func unreachableEndpointStopsEarly() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        // A port that nothing listens on: a server started and stopped again.
        let server = try await FakeSendcloud.start(registering: [Self.clientID: Self.clientSecret])
        let tokenURL = server.tokenURL
        await server.stop()
        let names = try await Self.importAccounts(cli, count: 20, tokenURL: tokenURL, server: nil)
        let result = try await cli.vaultRun(["refresh", "--all", "--force", "--concurrency", "2"])
        #expect(result.status == 69, "\(result)")
        print("refresh --all --force, 20 accounts, endpoint down:\n\(result)")
        let lines = result.stderr.split(separator: "\n")
        // At most the 5 in a row and the one still in flight, the line for those not attempted, the error line.
        #expect(lines.count <= 8, "\(result)")
        #expect(result.stderr.contains("connection refused"), "\(result)")
        #expect(!result.stderr.contains("errno"), "\(result)")
        #expect(result.stderr.contains("stopped early, 1"), "\(result)")
        #expect(result.stdout.contains("not attempted (token endpoint unreachable)"), "\(result)")

        let json = try await cli.vaultRun(["refresh", "--all", "--force", "--concurrency", "2", "--json"])
        #expect(json.status == 69)
        let object = try #require(json.jsonObject, "\(json)")
        let failed = try #require(object["failed"] as? [[String: Any]])
        let notAttempted = try #require(object["not_attempted"] as? [String])
        #expect(failed.count >= 5 && failed.count <= 6, "\(failed)")
        #expect(failed.allSatisfy { $0["code"] as? Int == 69 })
        #expect(failed.count + notAttempted.count == names.count)
        #expect(json.jsonError?["kind"] as? String == "unreachable")
    }

    @Test("--quiet prints nothing when every refresh succeeds, and the failure when one does not")
    func quietIsSilentOnSuccess() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { server in
            _ = try await Self.importAccounts(cli, count: 3, tokenURL: server.tokenURL, server: server)
            let quiet = try await cli.succeed(["refresh", "--all", "--quiet"])
            #expect(quiet.stdout.isEmpty && quiet.stderr.isEmpty, "\(quiet)")
            #expect(server.stats.refreshGrants == 3)
            server.setPermanentFault(.internalServerError)
            let failing = try await cli.vaultRun(["refresh", "t01", "--quiet"])
            #expect(failing.status == 75)
            #expect(failing.stderr.contains("account 't01'"), "\(failing)")
        }
    }

    @Test("no log lines by default (also with --json); --verbose and SENDCLOUD_VAULT_LOG turn them on")
    func logLinesOnlyWhenAsked() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { server in
            _ = try await Self.importAccounts(cli, count: 2, tokenURL: server.tokenURL, server: server)
            server.setPermanentFault(.internalServerError)
            for extra in [[], ["--json"]] {
                let failed = try await cli.vaultRun(["refresh", "--all", "--force"] + extra)
                #expect(failed.status == 75)
                // One line per failed account (text), or the JSON error document: no timestamped log lines.
                #expect(!failed.stderr.contains("token request"), "\(failed)")
                #expect(!failed.stderr.contains(" warning "), "\(failed)")
            }
            let text = try await cli.vaultRun(["refresh", "--all", "--force"])
            #expect(text.stderr.split(separator: "\n").count == 3, "two failures and the error line:\n\(text)")
            let verbose = try await cli.vaultRun(["refresh", "t01", "--verbose"])
            #expect(verbose.stderr.contains("token request failed"), "\(verbose)")
            let level = try await cli.vaultRun(["refresh", "t01"], env: ["SENDCLOUD_VAULT_LOG": "warning"])
            #expect(level.stderr.contains("token request gave up"), "\(level)")
            #expect(!level.stderr.contains("token request failed, may retry"), "notice is below warning:\n\(level)")
            let bad = try await cli.vaultRun(["list"], env: ["SENDCLOUD_VAULT_LOG": "loud"])
            #expect(bad.status == 64)
            #expect(bad.stderr.contains("SENDCLOUD_VAULT_LOG"))
        }
    }

    @Test("a rejected request (unsupported_grant_type) exits 82 with one short line that says it once")
    func rejectedRequest() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { server in
            _ = try await Self.importAccounts(cli, count: 1, tokenURL: server.tokenURL, server: server)
            server.setPermanentFault(
                .oauthError(
                    status: 400,
                    error: "unsupported_grant_type",
                    description: "The authorization grant type is not supported by the authorization server.",
                    hint: "The authorization grant type is not supported by the authorization server."
                )
            )
            let result = try await cli.vaultRun(["token", "t01"])
            #expect(result.status == 82, "\(result)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(result)")
            #expect(result.stderr.contains("unsupported_grant_type"))
            #expect(result.stderr.contains("sendcloud-vault show t01"))
            // The stored last error holds the server's sentence once, not twice.
            let shown = try #require(try await cli.succeed(["show", "t01", "--json"]).jsonObject)
            let lastError = try #require(shown["last_error"] as? String)
            #expect(lastError.components(separatedBy: "is not supported by the authorization server").count == 2)
            let json = try await cli.vaultRun(["refresh", "t01", "--json"])
            #expect(json.status == 82)
            let failed = try #require((json.jsonObject?["failed"] as? [[String: Any]])?.first)
            #expect((failed["detail"] as? String)?.contains("HTTP 400") == true)
        }
    }
}
