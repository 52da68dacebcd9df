import AsyncHTTPClient
import CredentialVault
import Foundation
import NIOCore
import NIOHTTP1
import SendcloudTesting
import TestSupport
import Testing

@testable import SendcloudOAuth

/// ``TokenProvider/execute(_:for:on:timeout:logger:)`` and ``TokenProvider/setAuthorization(of:for:logger:)``
/// against the development endpoint's stand-in for Sendcloud's API (`GET /api/v3/user/auth/metadata`).
@Suite("Request helpers against the API stand-in")
struct RequestHelperTests {
    static func metadataRequest(_ server: FakeSendcloud) -> HTTPClientRequest {
        HTTPClientRequest(url: server.apiBaseURL + "/user/auth/metadata")
    }

    static func json(_ response: HTTPClientResponse) async throws -> [String: Any] {
        let body = try await response.body.collect(upTo: 1 << 16)
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        return object?["data"] as? [String: Any] ?? [:]
    }

    @Test("a Bearer request reaches the API as the tenant")
    func bearer() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            let response = try await h.provider.execute(Self.metadataRequest(h.server), for: "acme", on: h.http)
            #expect(response.status == .ok)
            let data = try await Self.json(response)
            #expect(data["client_id"] as? String == Harness.clientID)
            #expect(data["auth_method"] as? String == "oauth2")
        }
    }

    @Test("a basic account sends its API key pair as HTTP Basic")
    func basic() async throws {
        try await withHarness { h in
            // An API key pair: RFC 7617 forbids ':' in the user id, which the harness's client id holds.
            h.server.registerClient(id: "public-key-1", secret: "secret key 1")
            try await h.vault.addAccount(
                Account(name: "keys", mode: .basic, clientID: "public-key-1", tokenURL: h.server.tokenURL),
                secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "secret key 1"))
            )
            var request = Self.metadataRequest(h.server)
            let token = try await h.provider.setAuthorization(of: &request, for: "keys")
            #expect(token == nil)
            #expect(request.headers.first(name: "Authorization")?.hasPrefix("Basic ") == true)
            let response = try await h.provider.execute(request, for: "keys", on: h.http)
            #expect(response.status == .ok)
            #expect(try await Self.json(response)["auth_method"] as? String == "api_key")
            #expect(h.server.stats.tokenRequests == 0)
        }
    }

    @Test("a 401 to a token the client thought valid → one refresh and one retry, then 200")
    func unauthorizedRetriedOnce() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            let old = try await h.provider.accessToken(for: "acme")
            // Obtained two minutes ago (a refused fresh token is not refreshed: see the next test), then revoked.
            let (account, secrets) = try await h.vault.openAccount(named: "acme")
            var older = account
            older.refreshedAt = Date().addingTimeInterval(-120)
            _ = try await h.vault.updateAccount(older, secrets: secrets, expectedGeneration: account.generation)
            #expect(h.server.revokeAccessToken(old.value.string))
            var configuration = TokenProvider.Configuration()
            configuration.accessTokenCacheLimit = 10
            let (provider, _) = try await h.countingProvider(configuration)
            h.server.resetStats()
            let responses = try await withThrowingTaskGroup(of: HTTPResponseStatus.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await provider.execute(Self.metadataRequest(h.server), for: "acme", on: h.http).status
                    }
                }
                return try await group.reduce(into: [HTTPResponseStatus]()) { $0.append($1) }
            }
            #expect(responses.allSatisfy { $0 == .ok }, "\(responses)")
            #expect(
                h.server.stats.refreshGrants == 1,
                "20 requests refused with one token caused more than one refresh"
            )
            #expect(h.server.stats.apiUnauthorized <= 20)
        }
    }

    @Test("a second 401 is returned as it is, not retried again")
    func secondUnauthorizedReturned() async throws {
        try await withHarness { h in
            try await h.addClientCredentialsAccount("acme")
            // Every token the server issues has expired by the time the API sees it: the first request's and the
            // refreshed one's.
            h.server.setAccessTokenLifetime(seconds: 0)
            let response = try await h.provider.execute(Self.metadataRequest(h.server), for: "acme", on: h.http)
            #expect(response.status == .unauthorized)
            #expect(response.headers.first(name: "WWW-Authenticate") != nil)
            #expect(h.server.stats.apiRequests == 2)
            #expect(h.server.stats.clientCredentialsGrants == 2)
        }
    }

    @Test(
        "an API that refuses tokens obtained seconds ago gets its 401 back, without another refresh per request",
        arguments: [0, 10]  // tokens from the store; from memory
    )
    func freshTokenRefusedNotRefreshed(cacheLimit: Int) async throws {
        try await withHarness { h in
            try await h.addClientCredentialsAccount("acme")
            var configuration = TokenProvider.Configuration()
            configuration.accessTokenCacheLimit = cacheLimit
            let (provider, _) = try await h.countingProvider(configuration)
            // Another server's API knows none of this server's tokens: it refuses every one, however fresh.
            try await withFakeSendcloud { elsewhere in
                for _ in 0..<5 {
                    let response = try await provider.execute(
                        HTTPClientRequest(url: elsewhere.userAuthMetadataURL),
                        for: "acme",
                        on: h.http
                    )
                    #expect(response.status == .unauthorized)
                }
                #expect(elsewhere.stats.apiRequests == 5)
            }
            #expect(h.server.stats.clientCredentialsGrants == 1)
        }
    }

    @Test("a tenant's credentials are not sent over plain http to another host")
    func insecureURLRefused() async throws {
        try await withHarness { h in
            try await h.addClientCredentialsAccount("acme")
            await expectOAuthError(.insecureTokenURL) {
                try await h.provider.execute(HTTPClientRequest(url: "http://example.com/api"), for: "acme", on: h.http)
            }
            #expect(h.server.stats.tokenRequests == 0)
        }
    }
}
