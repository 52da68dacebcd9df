import AsyncHTTPClient
import Foundation
import NIOCore
import SendcloudTesting
import TestSupport
import Testing

/// Changing accounts through the built binary against real token endpoints on 127.0.0.1: `update` of the client
/// secret, the refresh token and the token URL (the next token uses them), `login` on an existing account reusing
/// what is stored, and `remove` asking before it deletes.
@Suite("update, login on an existing account, remove --yes", .serialized)
struct AccountUpdateTests {
    static let clientID = "update-client"
    static let oldSecret = "update-secret-old-19ab"
    static let newSecret = "update-secret-new-5c3d"

    @Test("update --client-secret-file after a rotation: 81 before, the next token works after, nothing else changed")
    func updateClientSecret() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.oldSecret]) { server in
            try await cli.addRefreshAccount("acme", server: server, clientID: Self.clientID, secret: Self.oldSecret)
            try await cli.succeed(["token", "acme"])
            server.registerClient(id: Self.clientID, secret: Self.newSecret)  // rotated in the panel
            expectFailure(try await cli.vaultRun(["refresh", "acme"]), 81)
            let loose = try cli.writeFile("loose-secret", Self.newSecret, mode: 0o644)
            expectFailure(try await cli.vaultRun(["update", "acme", "--client-secret-file", loose]), 78)
            let file = try cli.writeFile("new-secret", Self.newSecret + "\n")
            let updated = try await cli.succeed(["update", "acme", "--client-secret-file", file])
            #expect(updated.stdout.contains("client secret"), "\(updated)")
            #expect(!updated.mentions(Self.newSecret))
            let revealed = try await cli.reveal("acme")
            #expect(revealed["client_secret"] as? String == Self.newSecret)
            #expect(revealed["access_token"] is NSNull, "the stored access token is dropped")
            #expect(revealed["token_url"] as? String == server.tokenURL)
            #expect(revealed["consecutive_failures"] as? Int == 0)
            let token = try await cli.succeed(["token", "acme"]).stdout.trimmingCharacters(in: .newlines)
            #expect(server.isAccessTokenValid(token))
        }
    }

    @Test("update --refresh-token-file clears reauth-required; the old refresh token is gone from the store")
    func updateRefreshToken() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.oldSecret]) { server in
            let old = try await cli.addRefreshAccount(
                "acme",
                server: server,
                clientID: Self.clientID,
                secret: Self.oldSecret
            )
            #expect(server.revokeAuthorizations(ofClient: Self.clientID) > 0)
            expectFailure(try await cli.vaultRun(["token", "acme"]), 80)
            let fresh = server.issueRefreshToken(clientID: Self.clientID)
            let file = try cli.writeFile("fresh-rt", fresh)
            try await cli.succeed(["update", "acme", "--refresh-token-file", file])
            let revealed = try await cli.reveal("acme")
            #expect(revealed["status"] as? String == "ok")
            #expect(revealed["last_error"] is NSNull)
            #expect(revealed["refresh_token"] as? String == fresh)
            #expect(revealed["refresh_token"] as? String != old)
            let token = try await cli.succeed(["token", "acme"]).stdout.trimmingCharacters(in: .newlines)
            #expect(server.isAccessTokenValid(token))
            // A variable alone changes nothing; --new-refresh-token takes it.
            let other = server.issueRefreshToken(clientID: Self.clientID)
            expectFailure(
                try await cli.vaultRun(["update", "acme"], env: ["SENDCLOUD_REFRESH_TOKEN": other]),
                64
            )
            try await cli.succeed(["update", "acme", "--new-refresh-token"], env: ["SENDCLOUD_REFRESH_TOKEN": other])
            #expect(try await cli.reveal("acme")["refresh_token"] as? String == other)
            // A client-credentials account has no refresh token to change.
            try await cli.addAccount("cc", secret: "cc-secret")
            expectFailure(try await cli.vaultRun(["update", "cc", "--refresh-token-file", file]), 64)
        }
    }

    @Test("update --token-url moves the account to another endpoint; an insecure URL is refused (78)")
    func updateTokenURL() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.oldSecret]) { first in
            try await withFakeSendcloud(clients: [Self.clientID: Self.oldSecret]) { second in
                try await cli.addRefreshAccount("acme", server: first, clientID: Self.clientID, secret: Self.oldSecret)
                try await cli.succeed(["token", "acme"])
                expectFailure(
                    try await cli.vaultRun(["update", "acme", "--token-url", "http://example.com/oauth2/token"]),
                    78
                )
                let moved = try cli.writeFile("moved-rt", second.issueRefreshToken(clientID: Self.clientID))
                let updated = try await cli.succeed(
                    ["update", "acme", "--token-url", second.tokenURL, "--refresh-token-file", moved, "--json"]
                )
                #expect(updated.jsonObject?["token_url"] as? String == second.tokenURL)
                first.resetStats()
                let token = try await cli.succeed(["token", "acme"]).stdout.trimmingCharacters(in: .newlines)
                #expect(second.isAccessTokenValid(token))
                #expect(first.stats.tokenRequests == 0)
                expectFailure(try await cli.vaultRun(["update", "acme"]), 64)
                expectFailure(try await cli.vaultRun(["update", "nobody", "--scope", "api"]), 66)
            }
        }
    }

    @Test("login on an existing account reuses its stored client id, client secret and token URL")
    func loginReusesStoredAccount() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.oldSecret]) { server in
            try await cli.addRefreshAccount("acme", server: server, clientID: Self.clientID, secret: Self.oldSecret)
            #expect(server.revokeAuthorizations(ofClient: Self.clientID) > 0)
            expectFailure(try await cli.vaultRun(["token", "acme"]), 80)
            try await withHTTPClient { http in
                // No --client-id, no secret, no --token-url: all from the stored account.
                let login = try LoginProcess(
                    cli: cli,
                    arguments: ["login", "acme", "--no-browser", "--timeout", "30s", "--vault", cli.vault],
                    env: cli.keyEnv.merging(["SENDCLOUD_AUTHORIZE_URL": server.authorizeURL]) { $1 },
                    stdin: ""
                )
                let authorize = try await login.authorizeURL()
                let query = URLComponents(string: authorize)?.queryItems ?? []
                #expect(query.first { $0.name == "client_id" }?.value == Self.clientID)
                let callback = try await AuthorizeAnswer.redirectLocation(authorize, http: http)
                _ = try await http.execute(HTTPClientRequest(url: callback), timeout: .seconds(10))
                let status = await login.wait()
                #expect(status == 0, "\(login.stderr)")
            }
            #expect(server.stats.authorizationCodeGrants == 1, "the code went to the stored token URL")
            let shown = try await cli.reveal("acme")
            #expect(shown["status"] as? String == "ok")
            #expect(shown["token_url"] as? String == server.tokenURL)
            let token = try await cli.succeed(["token", "acme"]).stdout.trimmingCharacters(in: .newlines)
            #expect(server.isAccessTokenValid(token))
            // A new account still needs its client id.
            expectFailure(try await cli.vaultRun(["login", "fresh", "--no-browser", "--timeout", "1s"]), 64)
        }
    }
}
