import AsyncHTTPClient
import Foundation
import NIOCore
import SendcloudTesting
import TestSupport
import Testing

@Suite("Token endpoint")
struct TokenEndpointTests {
    @Test func clientCredentialsSucceeds() async throws {
        try await withServerAndClient { server, client in
            let reply = try await client.token(server, [("grant_type", "client_credentials"), ("scope", "api")])
            #expect(reply.status == 200)
            #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true)
            #expect(reply.header("Cache-Control") == "no-store")
            let accessToken = try #require(reply.string("access_token"))
            #expect(accessToken.hasPrefix("at_"))
            #expect(reply.string("token_type") == "bearer")
            #expect(reply.int("expires_in") == 3600)
            #expect(reply.string("scope") == "api")
            #expect(reply.json["refresh_token"] == nil)
            #expect(server.isAccessTokenValid(accessToken))
            #expect(!server.isAccessTokenValid("at_unknown"))
            #expect(server.receivedForms == [["grant_type": "client_credentials", "scope": "api"]])
            #expect(server.receivedAuthorizationHeaders == [TestClient.basic()])
            #expect(
                server.stats
                    == FakeSendcloud.Stats(tokenRequests: 1, clientCredentialsGrants: 1, maxConcurrentTokenRequests: 1)
            )
        }
    }

    @Test func tokensAreDistinctAndLifetimeIsConfigurable() async throws {
        try await withServerAndClient { server, client in
            server.setAccessTokenLifetime(seconds: 120)
            let first = try await client.token(server, [("grant_type", "client_credentials")])
            let second = try await client.token(server, [("grant_type", "client_credentials")])
            #expect(first.int("expires_in") == 120)
            #expect(first.string("scope") == "")
            #expect(first.string("access_token") != second.string("access_token"))

            server.setAccessTokenLifetime(seconds: 0)
            let expired = try await client.token(server, [("grant_type", "client_credentials")])
            #expect(expired.int("expires_in") == 0)
            #expect(!server.isAccessTokenValid(try #require(expired.string("access_token"))))
        }
    }

    @Test func badClientAuthenticationIsInvalidClient() async throws {
        try await withServerAndClient { server, client in
            let attempts: [String?] = [
                TestClient.basic(secret: "wrong"),
                TestClient.basic(id: "nobody"),
                nil,
                "Bearer abc",
                "Basic !!!not-base64",
            ]
            for authorization in attempts {
                let reply = try await client.token(
                    server,
                    [("grant_type", "client_credentials")],
                    authorization: authorization
                )
                #expect(reply.status == 401)
                #expect(reply.string("error") == "invalid_client")
                #expect(
                    reply.string("error_description")
                        == "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method)."
                )
                #expect(reply.string("error_hint")?.isEmpty == false)
                #expect(reply.int("status_code") == 401)
            }
            // The credentials must be form-urlencoded before base64 (RFC 6749 §2.3.1).
            let raw = "Basic " + Data("\(TestClient.clientID):\(TestClient.clientSecret)".utf8).base64EncodedString()
            let unencoded = try await client.token(server, [("grant_type", "client_credentials")], authorization: raw)
            #expect(unencoded.status == 401)
            #expect(server.stats.invalidClient == attempts.count + 1)
            #expect(server.stats.clientCredentialsGrants == 0)
        }
    }

    @Test func malformedRequestsAreRejected() async throws {
        try await withServerAndClient { server, client in
            let json = try await client.post(
                server.tokenURL,
                body: #"{"grant_type":"client_credentials"}"#,
                contentType: "application/json"
            )
            #expect(json.status == 400)
            #expect(json.string("error") == "invalid_request")

            let missingGrant = try await client.token(server, [("scope", "api")])
            #expect(missingGrant.status == 400)
            #expect(missingGrant.string("error") == "invalid_request")

            let password = try await client.token(server, [("grant_type", "password")])
            #expect(password.status == 400)
            #expect(password.string("error") == "unsupported_grant_type")
            #expect(password.int("status_code") == 400)

            let charset = try await client.post(
                server.tokenURL,
                body: "grant_type=client_credentials",
                contentType: "application/x-www-form-urlencoded; charset=utf-8"
            )
            #expect(charset.status == 200)
            #expect(server.stats.tokenRequests == 4)
        }
    }

    @Test func refreshRotatesTheToken() async throws {
        try await withServerAndClient { server, client in
            let original = server.issueRefreshToken(clientID: TestClient.clientID)
            #expect(server.isRefreshTokenActive(original))

            let first = try await client.token(server, [("grant_type", "refresh_token"), ("refresh_token", original)])
            #expect(first.status == 200)
            let rotated = try #require(first.string("refresh_token"))
            let firstAccess = try #require(first.string("access_token"))
            #expect(rotated != original)
            #expect(rotated.hasPrefix("rt_"))
            #expect(first.string("scope") == "api offline_access")
            #expect(first.string("token_type") == "bearer")
            #expect(!server.isRefreshTokenActive(original))
            #expect(server.isRefreshTokenActive(rotated))
            #expect(server.isAccessTokenValid(firstAccess))

            let second = try await client.token(server, [("grant_type", "refresh_token"), ("refresh_token", rotated)])
            #expect(second.status == 200)
            let newest = try #require(second.string("refresh_token"))
            #expect(server.isRefreshTokenActive(newest))
            #expect(!server.isRefreshTokenActive(rotated))
            // Like Hydra, a refresh revokes the access tokens issued earlier in the chain.
            #expect(!server.isAccessTokenValid(firstAccess))
            #expect(server.isAccessTokenValid(try #require(second.string("access_token"))))
            #expect(server.stats.refreshGrants == 2)
        }
    }

    @Test func reusedRefreshTokenRevokesTheChain() async throws {
        try await withServerAndClient { server, client in
            let original = server.issueRefreshToken(clientID: TestClient.clientID)
            let first = try await client.token(server, [("grant_type", "refresh_token"), ("refresh_token", original)])
            let rotated = try #require(first.string("refresh_token"))
            let access = try #require(first.string("access_token"))

            let reuse = try await client.token(server, [("grant_type", "refresh_token"), ("refresh_token", original)])
            #expect(reuse.status == 400)
            #expect(reuse.string("error") == "invalid_grant")
            #expect(reuse.string("error_description")?.hasPrefix("The provided authorization grant") == true)
            #expect(reuse.int("status_code") == 400)
            #expect(!server.isRefreshTokenActive(rotated))
            #expect(!server.isAccessTokenValid(access))

            let afterRevocation = try await client.token(
                server,
                [("grant_type", "refresh_token"), ("refresh_token", rotated)]
            )
            #expect(afterRevocation.status == 400)
            #expect(afterRevocation.string("error") == "invalid_grant")

            let unknown = try await client.token(
                server,
                [("grant_type", "refresh_token"), ("refresh_token", "rt_nope")]
            )
            #expect(unknown.string("error") == "invalid_grant")
            #expect(server.stats.invalidGrant == 3)
            #expect(server.stats.refreshGrants == 1)
        }
    }

    @Test func refreshTokenOfAnotherClientIsInvalidGrant() async throws {
        try await withServerAndClient { server, client in
            server.registerClient(id: "other", secret: "other-secret")
            let token = server.issueRefreshToken(clientID: "other")
            let reply = try await client.token(server, [("grant_type", "refresh_token"), ("refresh_token", token)])
            #expect(reply.status == 400)
            #expect(reply.string("error") == "invalid_grant")
            #expect(server.isRefreshTokenActive(token))
        }
    }

    @Test func rotationOffKeepsTheToken() async throws {
        try await withServerAndClient { server, client in
            server.setRotatesRefreshTokens(false)
            let token = server.issueRefreshToken(clientID: TestClient.clientID, scope: "api offline")
            for _ in 0..<2 {
                let reply = try await client.token(server, [("grant_type", "refresh_token"), ("refresh_token", token)])
                #expect(reply.status == 200)
                #expect(reply.json["refresh_token"] == nil)
                #expect(reply.string("scope") == "api offline")
                #expect(server.isAccessTokenValid(try #require(reply.string("access_token"))))
                #expect(server.isRefreshTokenActive(token))
            }
            #expect(server.stats.refreshGrants == 2)
        }
    }

    @Test func statsCountAndReset() async throws {
        try await withServerAndClient { server, client in
            let token = server.issueRefreshToken(clientID: TestClient.clientID)
            server.injectFaults([.internalServerError])
            _ = try await client.token(server, [("grant_type", "client_credentials")])
            _ = try await client.token(server, [("grant_type", "client_credentials")])
            _ = try await client.token(server, [("grant_type", "refresh_token"), ("refresh_token", token)])
            _ = try await client.token(server, [("grant_type", "refresh_token"), ("refresh_token", token)])
            _ = try await client.token(server, [("grant_type", "client_credentials")], authorization: nil)
            let expected = FakeSendcloud.Stats(
                tokenRequests: 5,
                clientCredentialsGrants: 1,
                refreshGrants: 1,
                invalidGrant: 1,
                invalidClient: 1,
                faultsServed: 1,
                maxConcurrentTokenRequests: 1  // one request after the other
            )
            #expect(server.stats == expected)
            #expect(server.receivedForms.count == 5)
            #expect(server.receivedAuthorizationHeaders.count == 4)
            server.resetStats()
            #expect(server.stats == FakeSendcloud.Stats())
        }
    }

    @Test func stopIsIdempotentAndFreesThePort() async throws {
        let server = try await FakeSendcloud.start()
        #expect(server.port > 0)
        #expect(server.baseURL == "http://127.0.0.1:\(server.port)")
        #expect(server.tokenURL == server.baseURL + "/oauth2/token")
        #expect(server.authorizeURL == server.baseURL + "/oauth2/auth")
        await server.stop()
        await server.stop()
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        await #expect(throws: (any Error).self) {
            _ = try await TestClient(http: http).get(server.tokenURL, timeout: .milliseconds(500))
        }
        try await http.shutdown()
    }
}
