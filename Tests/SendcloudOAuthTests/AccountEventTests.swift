import CredentialVault
import Foundation
import SendcloudOAuth
import SendcloudTesting
import TestSupport
import Testing

/// ``TokenProvider/events(bufferingNewest:)``: what an embedder's webhook or alert sees.
@Suite("Account events")
struct AccountEventTests {
    /// Collects the next `count` events of `stream`.
    static func next(_ count: Int, of stream: AsyncStream<AccountEvent>) async -> [AccountEvent] {
        var events: [AccountEvent] = []
        for await event in stream {
            events.append(event)
            if events.count == count { break }
        }
        return events
    }

    @Test("a refresh, a failure and an invalid_grant are published in order, without secrets")
    func refreshFailureInvalidGrant() async throws {
        try await withHarness { h in
            let refreshToken = try await h.addRefreshAccount("acme")
            let events = h.provider.events()
            let collected = Task { await Self.next(3, of: events) }
            let token = try await h.provider.refresh("acme")
            h.server.setPermanentFault(.internalServerError)
            await expectOAuthError(.serverError) { try await h.provider.refresh("acme") }
            h.server.setPermanentFault(nil)
            // Make the stored refresh token one the server never issued: the next refresh is invalid_grant.
            let (account, secrets) = try await h.vault.openAccount(named: "acme")
            var spent = secrets
            spent.refreshToken = SecureBytes(utf8: "rt_not_issued_by_the_server")
            _ = try await h.vault.updateAccount(account, secrets: spent, expectedGeneration: account.generation)
            await expectOAuthError(.reauthorizationRequired) { try await h.provider.refresh("acme") }
            let seen = await collected.value
            try #require(seen.count == 3)
            #expect(seen.map(\.account) == ["acme", "acme", "acme"])
            guard case .refreshed(let expiresAt) = seen[0].kind else {
                Issue.record("first event: \(seen[0])")
                return
            }
            #expect(expiresAt == token.expiresAt)
            #expect(seen[1].kind == .refreshFailed(.serverError, message: seen[1].kind.message ?? ""))
            guard case .reauthorizationRequired(let message) = seen[2].kind else {
                Issue.record("third event: \(seen[2])")
                return
            }
            #expect(!message.isEmpty)
            #expect(seen[0].date <= seen[1].date && seen[1].date <= seen[2].date)
            let rendered = seen.map { "\($0) \(String(reflecting: $0))" }.joined()
            for secret in [token.value.string, refreshToken, Harness.clientSecret] {
                #expect(!rendered.contains(secret), "an event carries a secret")
            }
        }
    }

    @Test("each subscriber gets every event; a rate-limited and an unusable answer have their kinds")
    func kindsAndSubscribers() async throws {
        try await withHarness { h in
            try await h.addClientCredentialsAccount("acme")
            let one = h.provider.events()
            let two = h.provider.events()
            let first = Task { await Self.next(2, of: one) }
            let second = Task { await Self.next(2, of: two) }
            h.server.setPermanentFault(.tooManyRequests(retryAfter: 0))
            await expectOAuthError(.rateLimited) { try await h.provider.refresh("acme") }
            h.server.setPermanentFault(.nonJSON200)
            await expectOAuthError(.invalidResponse) { try await h.provider.refresh("acme") }
            let (a, b) = await (first.value, second.value)
            #expect(a == b)
            #expect(a.map(\.kind.failure) == [.rateLimited, .unusableAnswer])
        }
    }
}

extension AccountEvent.Kind {
    var message: String? {
        switch self {
        case .refreshFailed(_, let message), .reauthorizationRequired(let message): message
        default: nil
        }
    }

    var failure: RefreshFailure? {
        if case .refreshFailed(let failure, _) = self { failure } else { nil }
    }
}

@Suite("Account events of the authorization code grant")
struct AuthorizationEventTests {
    static func authorize(
        _ h: Harness,
        _ provider: TokenProvider,
        scope: String = "api offline_access"
    ) async throws
        -> Account
    {
        let session = AuthorizationSession(redirectURI: "http://127.0.0.1:9/callback")
        let url = try session.authorizeURL(base: h.server.authorizeURL, clientID: Harness.clientID, scope: scope)
        let code = try session.code(from: try await AuthorizeAnswer.redirect(url, http: h.http).query)
        return try await provider.authorize(
            Account(name: "acme", mode: .refreshToken, clientID: Harness.clientID, tokenURL: h.server.tokenURL),
            clientSecret: SecureBytes(utf8: Harness.clientSecret),
            code: code,
            redirectURI: session.redirectURI,
            codeVerifier: session.codeVerifier,
            mayReplace: true
        )
    }

    @Test("a new account is .authorized, a second login .reauthorized; the new token is held in memory")
    func authorizedThenReauthorized() async throws {
        try await withHarness { h in
            var configuration = TokenProvider.Configuration()
            configuration.accessTokenCacheLimit = 10
            let (provider, store) = try await h.countingProvider(configuration)
            let events = provider.events()
            let collected = Task { await AccountEventTests.next(2, of: events) }
            _ = try await Self.authorize(h, provider)
            _ = try await Self.authorize(h, provider)
            #expect(await collected.value.map(\.kind) == [.authorized, .reauthorized])
            let reads = store.accountReads
            let token = try await provider.accessToken(for: "acme")
            #expect(store.accountReads == reads, "the token of the second login was not held in memory")
            #expect(h.server.isAccessTokenValid(token.value.string))
            #expect(try await h.vault.openAccount(named: "acme").secrets.accessToken == token.value)
        }
    }

    @Test("an answer without a refresh token (no offline_access) is refused, and nothing is stored")
    func noRefreshTokenRefused() async throws {
        try await withHarness { h in
            let error = await expectOAuthError(.authorizationFailed) {
                try await Self.authorize(h, h.provider, scope: "api")
            }
            #expect(error?.message.contains("offline_access") == true)
            await expectVaultError(.notFound) { try await h.vault.account(named: "acme") }
        }
    }
}
