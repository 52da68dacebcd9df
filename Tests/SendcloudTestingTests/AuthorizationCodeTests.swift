import Foundation
import SendcloudTesting
import TestSupport
import Testing

@Suite("Authorization code with PKCE")
struct AuthorizationCodeTests {
    static let redirectURI = "http://127.0.0.1:9/callback"

    func exchange(
        _ server: FakeSendcloud,
        _ client: TestClient,
        code: String,
        verifier: String = PKCEVector.verifier,
        redirectURI: String = redirectURI
    ) async throws -> Reply {
        try await client.token(
            server,
            [
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirectURI),
                ("code_verifier", verifier),
            ]
        )
    }

    @Test func happyPathIssuesTokensAndCodeIsSingleUse() async throws {
        try await withServerAndClient { server, client in
            let (redirect, query) = try await authorize(server, client, state: "st ate/+&=1234")
            #expect(redirect.status == 302)
            let location = try #require(redirect.header("Location"))
            #expect(location.hasPrefix(Self.redirectURI + "?code="))
            #expect(query["state"] == "st ate/+&=1234")
            let code = try #require(query["code"])

            let reply = try await exchange(server, client, code: code)
            #expect(reply.status == 200)
            let access = try #require(reply.string("access_token"))
            let refresh = try #require(reply.string("refresh_token"))
            #expect(reply.string("scope") == "api offline_access")
            #expect(reply.string("token_type") == "bearer")
            #expect(reply.int("expires_in") == 3600)
            #expect(server.isAccessTokenValid(access))
            #expect(server.isRefreshTokenActive(refresh))

            // Reuse: invalid_grant, and the tokens issued from the code are revoked.
            let reuse = try await exchange(server, client, code: code)
            #expect(reuse.status == 400)
            #expect(reuse.string("error") == "invalid_grant")
            #expect(!server.isAccessTokenValid(access))
            #expect(!server.isRefreshTokenActive(refresh))
            #expect(server.stats.authorizationCodeGrants == 1)
            #expect(server.stats.invalidGrant == 1)
        }
    }

    @Test func noOfflineScopeMeansNoRefreshToken() async throws {
        try await withServerAndClient { server, client in
            let existingQuery = "http://localhost:8080/cb?tenant=a"
            let (_, query) = try await authorize(server, client, redirectURI: existingQuery, scope: "api")
            let code = try #require(query["code"])
            #expect(query["tenant"] == "a")
            let reply = try await exchange(server, client, code: code, redirectURI: existingQuery)
            #expect(reply.status == 200)
            #expect(reply.json["refresh_token"] == nil)
            #expect(reply.string("scope") == "api")
        }
    }

    @Test func wrongVerifierIsInvalidGrantAndBurnsTheCode() async throws {
        try await withServerAndClient { server, client in
            let (_, query) = try await authorize(server, client)
            let code = try #require(query["code"])
            let wrong = String(repeating: "a", count: 43)
            let reply = try await exchange(server, client, code: code, verifier: wrong)
            #expect(reply.status == 400)
            #expect(reply.string("error") == "invalid_grant")
            // Hydra deletes the PKCE data before comparing: the right verifier no longer helps.
            let retry = try await exchange(server, client, code: code)
            #expect(retry.string("error") == "invalid_grant")

            let (_, second) = try await authorize(server, client)
            let short = try await exchange(server, client, code: try #require(second["code"]), verifier: "short")
            #expect(short.string("error") == "invalid_grant")
            #expect(server.stats.invalidGrant == 3)
            #expect(server.stats.authorizationCodeGrants == 0)
        }
    }

    @Test func redirectURIAndClientMustMatch() async throws {
        try await withServerAndClient { server, client in
            let (_, query) = try await authorize(server, client)
            let code = try #require(query["code"])
            let otherRedirect = try await exchange(server, client, code: code, redirectURI: "http://127.0.0.1:9/other")
            #expect(otherRedirect.string("error") == "invalid_grant")

            server.registerClient(id: "other", secret: "pw")
            let otherClient = try await client.token(
                server,
                [
                    ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", Self.redirectURI),
                    ("code_verifier", PKCEVector.verifier),
                ],
                authorization: TestClient.basic(id: "other", secret: "pw")
            )
            #expect(otherClient.string("error") == "invalid_grant")

            // Neither mismatch consumed the code.
            let reply = try await exchange(server, client, code: code)
            #expect(reply.status == 200)
            let unknown = try await exchange(server, client, code: "ac_unknown")
            #expect(unknown.string("error") == "invalid_grant")
        }
    }

    @Test func invalidAuthorizeRequestsAre400() async throws {
        try await withServerAndClient { server, client in
            let unknownClient = try await authorize(server, client, clientID: "nobody")
            #expect(unknownClient.reply.status == 400)
            #expect(unknownClient.reply.string("error") == "invalid_client")

            let remote = try await authorize(server, client, redirectURI: "https://example.com/callback")
            #expect(remote.reply.status == 400)
            #expect(remote.reply.string("error") == "invalid_request")

            let weakState = try await authorize(server, client, state: "abc")
            #expect(weakState.reply.status == 400)
            #expect(weakState.reply.string("error") == "invalid_state")

            let noChallenge = try await authorize(server, client, challenge: "")
            #expect(noChallenge.reply.status == 400)
            #expect(noChallenge.reply.int("status_code") == 400)

            let plain = try await client.get(
                server.authorizeURL + "?"
                    + TestClient.form([
                        ("response_type", "code"), ("client_id", TestClient.clientID),
                        ("redirect_uri", Self.redirectURI), ("state", "state-12345678"),
                        ("code_challenge", PKCEVector.verifier), ("code_challenge_method", "plain"),
                    ])
            )
            #expect(plain.status == 400)

            let token = try await client.get(
                server.authorizeURL + "?"
                    + TestClient.form([
                        ("response_type", "token"), ("client_id", TestClient.clientID),
                        ("redirect_uri", Self.redirectURI), ("state", "state-12345678"),
                        ("code_challenge", PKCEVector.challenge), ("code_challenge_method", "S256"),
                    ])
            )
            #expect(token.status == 400)
            #expect(token.string("error") == "unsupported_response_type")
        }
    }

    @Test func wrongStateFaultIsConsumedOnce() async throws {
        try await withServerAndClient { server, client in
            server.injectFaults([.wrongState])
            let faulted = try await authorize(server, client, state: "expected-state")
            #expect(faulted.reply.status == 302)
            let returned = try #require(faulted.query["state"])
            #expect(returned != "expected-state")
            #expect(faulted.query["code"] != nil)

            // The token endpoint does not consume a .wrongState fault.
            let tokens = try await client.token(server, [("grant_type", "client_credentials")])
            #expect(tokens.status == 200)

            let normal = try await authorize(server, client, state: "expected-state")
            #expect(normal.query["state"] == "expected-state")
            #expect(server.stats.faultsServed == 1)
            #expect(server.pendingFaults.isEmpty)
        }
    }
}
