import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SendcloudTesting
import TestSupport
import Testing

@Suite("API stand-in (GET /api/v3/user/auth/metadata) and access-token revocation")
struct APIStandInTests {
    func call(_ server: FakeSendcloud, _ client: TestClient, authorization: String?) async throws -> Reply {
        var request = HTTPClientRequest(url: server.userAuthMetadataURL)
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        let response = try await client.http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    func clientCredentialsToken(_ server: FakeSendcloud, _ client: TestClient) async throws -> String {
        let reply = try await client.token(server, [("grant_type", "client_credentials"), ("scope", "api")])
        return try #require(reply.string("access_token"))
    }

    @Test("a valid Bearer token: 200 naming the client, its integration and the token's scope")
    func bearerTokenIsAccepted() async throws {
        try await withServerAndClient { server, client in
            #expect(server.userAuthMetadataURL == server.baseURL + "/api/v3/user/auth/metadata")
            #expect(server.apiBaseURL == server.baseURL + "/api/v3")
            let token = try await clientCredentialsToken(server, client)
            let reply = try await call(server, client, authorization: "Bearer " + token)
            #expect(reply.status == 200)
            #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true)
            let data = try #require(reply.json["data"] as? [String: Any])
            #expect(data["client_id"] as? String == TestClient.clientID)
            #expect(data["integration_id"] as? Int == 1)
            #expect(data["user_id"] as? Int == 1)
            #expect(data["auth_method"] as? String == "oauth2")
            #expect(data["scope"] as? String == "api")
            #expect(server.stats.apiRequests == 1)
            #expect(server.stats.apiUnauthorized == 0)
        }
    }

    @Test("tokens of two authorizations of one client are two users")
    func authorizationsAreDistinctUsers() async throws {
        try await withServerAndClient { server, client in
            var users: [Int] = []
            for _ in 0..<2 {
                let refresh = server.issueRefreshToken(clientID: TestClient.clientID)
                let reply = try await client.token(
                    server,
                    [("grant_type", "refresh_token"), ("refresh_token", refresh)]
                )
                let token = try #require(reply.string("access_token"))
                let answer = try await call(server, client, authorization: "Bearer " + token)
                let data = try #require(answer.json["data"] as? [String: Any])
                users.append(try #require(data["user_id"] as? Int))
                #expect(data["scope"] as? String == "api offline_access")
            }
            #expect(Set(users).count == 2)
            #expect(users.allSatisfy { $0 > 1000 })
        }
    }

    @Test("HTTP Basic with the client id and secret (RFC 7617, not form-encoded) is Sendcloud's API key pair")
    func basicCredentialsAreAccepted() async throws {
        try await withServerAndClient { server, client in
            // RFC 7617: the user-id cannot hold a colon, the password can.
            server.registerClient(id: "public-key ü", secret: "secret:key/+=")
            let pair = Data("public-key ü:secret:key/+=".utf8).base64EncodedString()
            let reply = try await call(server, client, authorization: "Basic " + pair)
            #expect(reply.status == 200)
            let data = try #require(reply.json["data"] as? [String: Any])
            #expect(data["client_id"] as? String == "public-key ü")
            #expect(data["integration_id"] as? Int == 2)
            #expect(data["auth_method"] as? String == "api_key")
            #expect(data["scope"] == nil)

            let wrong = Data("public-key ü:wrong".utf8).base64EncodedString()
            let refused = try await call(server, client, authorization: "Basic " + wrong)
            #expect(refused.status == 401)
            #expect(refused.headers["WWW-Authenticate"] == ["Basic realm=\"sendcloud\""])
            #expect(!refused.body.contains("secret:key"))
            // The token endpoint's form-encoded pair is not the API's.
            let formEncoded = try await call(
                server,
                client,
                authorization: TestClient.basic(id: "public-key ü", secret: "secret:key/+=")
            )
            #expect(formEncoded.status == 401)
            #expect(server.stats.apiRequests == 3)
            #expect(server.stats.apiUnauthorized == 2)
        }
    }

    @Test("no, unknown, expired or revoked credentials: 401 with WWW-Authenticate, counted")
    func badCredentialsAreRefused() async throws {
        try await withServerAndClient { server, client in
            let missing = try await call(server, client, authorization: nil)
            #expect(missing.status == 401)
            #expect(missing.headers["WWW-Authenticate"] == ["Bearer realm=\"sendcloud\"", "Basic realm=\"sendcloud\""])
            let errors = try #require(missing.json["errors"] as? [[String: Any]])
            #expect(errors.first?["status"] as? String == "401")

            let unknown = try await call(server, client, authorization: "Bearer at_unknown")
            #expect(unknown.status == 401)
            #expect(unknown.header("WWW-Authenticate")?.contains("error=\"invalid_token\"") == true)

            let other = try await call(server, client, authorization: "Token abc")
            #expect(other.status == 401)

            server.setAccessTokenLifetime(seconds: 0)
            let expired = try await clientCredentialsToken(server, client)
            #expect(try await call(server, client, authorization: "Bearer " + expired).status == 401)

            #expect(server.stats.apiRequests == 4)
            #expect(server.stats.apiUnauthorized == 4)
        }
    }

    @Test("revokeAccessToken: a token the client believes valid is refused from then on")
    func revokingOneToken() async throws {
        try await withServerAndClient { server, client in
            let first = try await clientCredentialsToken(server, client)
            let second = try await clientCredentialsToken(server, client)
            #expect(try await call(server, client, authorization: "Bearer " + first).status == 200)
            #expect(server.revokeAccessToken(first))
            #expect(!server.revokeAccessToken("at_never_issued"))
            #expect(!server.isAccessTokenValid(first))
            #expect(try await call(server, client, authorization: "Bearer " + first).status == 401)
            #expect(try await call(server, client, authorization: "Bearer " + second).status == 200)
            #expect(server.stats.apiUnauthorized == 1)
        }
    }

    @Test("revokeAccessTokens(ofClient:) revokes that client's access tokens only; refresh tokens stay usable")
    func revokingAClientsTokens() async throws {
        try await withServerAndClient { server, client in
            server.registerClient(id: "other", secret: "other-secret")
            let refresh = server.issueRefreshToken(clientID: TestClient.clientID)
            let mine = try await clientCredentialsToken(server, client)
            let theirs = try #require(
                try await client.token(
                    server,
                    [("grant_type", "client_credentials")],
                    authorization: TestClient.basic(id: "other", secret: "other-secret")
                ).string("access_token")
            )
            #expect(server.revokeAccessTokens(ofClient: TestClient.clientID) == 1)
            #expect(!server.isAccessTokenValid(mine))
            #expect(server.isAccessTokenValid(theirs))
            #expect(server.isRefreshTokenActive(refresh))
            let refreshed = try await client.token(
                server,
                [("grant_type", "refresh_token"), ("refresh_token", refresh)]
            )
            #expect(refreshed.status == 200)
        }
    }

    @Test("accepting any client: the first secret registers an unknown id, a wrong one is still refused")
    func acceptingAnyClient() async throws {
        try await withServerAndClient { server, client in
            let newcomer = TestClient.basic(id: "new-app", secret: "first-secret")
            let before = try await client.token(server, [("grant_type", "client_credentials")], authorization: newcomer)
            #expect(before.status == 401)
            server.setAcceptsAnyClient(true)
            let accepted = try await client.token(
                server,
                [("grant_type", "client_credentials")],
                authorization: newcomer
            )
            #expect(accepted.status == 200)
            let again = try await client.token(server, [("grant_type", "client_credentials")], authorization: newcomer)
            #expect(again.status == 200)
            let wrong = try await client.token(
                server,
                [("grant_type", "client_credentials")],
                authorization: TestClient.basic(id: "new-app", secret: "another-secret")
            )
            #expect(wrong.status == 401)
            #expect(wrong.string("error") == "invalid_client")
            // The authorize endpoint takes an unknown client id too.
            let (redirect, query) = try await authorize(server, client, clientID: "unseen-app")
            #expect(redirect.status == 302)
            #expect(query["code"] != nil)
        }
    }

    @Test("start listens on loopback addresses only, and on the port asked for")
    func loopbackOnly() async throws {
        for host in ["0.0.0.0", "192.168.1.10", "example.com", "127.0.0.1.example.com", ""] {
            await #expect(throws: FakeSendcloud.StartError.self) { try await FakeSendcloud.start(host: host) }
        }
        let localhost = try await FakeSendcloud.start(host: "localhost")
        #expect(localhost.baseURL == "http://127.0.0.1:\(localhost.port)")
        let port = localhost.port
        await localhost.stop()
        // The port just freed can be asked for by number.
        let again = try await FakeSendcloud.start(port: port, clients: ["a": "b"])
        #expect(again.port == port)
        #expect(again.tokenURL == "http://127.0.0.1:\(port)/oauth2/token")
        await again.stop()
    }
}
