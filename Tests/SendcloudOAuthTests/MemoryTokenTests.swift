import CredentialVault
import Foundation
import SendcloudTesting
import TestSupport
import Testing

@testable import SendcloudOAuth

/// DESIGN §5's in-memory access tokens of a long-running provider, and `refresh(_:ifStillUsing:)`, against the real
/// fake Sendcloud and a real SQLite vault file.
@Suite("In-memory access tokens and the 401 path")
struct MemoryTokenTests {
    static func caching(_ limit: Int = 100) -> TokenProvider.Configuration {
        var configuration = TokenProvider.Configuration()
        configuration.accessTokenCacheLimit = limit
        return configuration
    }

    @Test("a valid token comes from memory: no store read, no request")
    func servedFromMemory() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            let (provider, store) = try await h.countingProvider(Self.caching())
            let first = try await provider.accessToken(for: "acme")
            #expect(first.obtainedFromServer)
            let readsAfterFirst = store.accountReads
            for _ in 0..<50 {
                let again = try await provider.accessToken(for: "acme")
                #expect(again.value == first.value)
                #expect(!again.obtainedFromServer)
            }
            #expect(store.accountReads == readsAfterFirst, "a cached token was read from the store")
            #expect(h.server.stats.tokenRequests == 1)
        }
    }

    @Test("without a cache limit every call reads the store (the CLI path)")
    func noCacheByDefault() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            let (provider, store) = try await h.countingProvider(TokenProvider.Configuration())
            _ = try await provider.accessToken(for: "acme")
            let reads = store.accountReads
            _ = try await provider.accessToken(for: "acme")
            #expect(store.accountReads == reads + 1)
        }
    }

    @Test("a token within the skew of its expiry is not served from memory")
    func skewRespected() async throws {
        try await withHarness { h in
            h.server.setAccessTokenLifetime(seconds: 30)  // less than the 60 s skew: never reusable
            try await h.addClientCredentialsAccount("acme")
            let (provider, _) = try await h.countingProvider(Self.caching())
            let first = try await provider.accessToken(for: "acme")
            let second = try await provider.accessToken(for: "acme")
            #expect(first.value != second.value)
            #expect(second.obtainedFromServer)
            #expect(h.server.stats.clientCredentialsGrants == 2)
        }
    }

    @Test("the cache holds at most its limit, evicting the least recently used")
    func boundedLeastRecentlyUsed() async throws {
        try await withHarness { h in
            for name in ["a", "b", "c", "d"] { try await h.addClientCredentialsAccount(AccountName(name)) }
            let (provider, store) = try await h.countingProvider(Self.caching(3))
            for name in ["a", "b", "c"] { _ = try await provider.accessToken(for: AccountName(name)) }
            _ = try await provider.accessToken(for: "a")  // a is now the most recent; b the least
            _ = try await provider.accessToken(for: "d")  // evicts b
            #expect(provider.cache.count == 3)
            #expect(!provider.cache.contains("b"))
            #expect(provider.cache.contains("a") && provider.cache.contains("c") && provider.cache.contains("d"))
            let reads = store.accountReads
            _ = try await provider.accessToken(for: "b")  // from the store again (its token is still valid there)
            #expect(store.accountReads == reads + 1)
            #expect(h.server.stats.clientCredentialsGrants == 4)
        }
    }

    @Test("an evicted entry's buffer is released, so SecureBytes zeroes it")
    func evictionReleasesBuffer() {
        let cache = AccessTokenCache(limit: 1)
        let expiry = Date().addingTimeInterval(3600)
        cache.store(
            AccessToken(account: "a", value: SecureBytes(utf8: "token-a"), expiresAt: expiry, obtainedFromServer: true)
        )
        weak let held = cache.heldBuffer(for: "a")
        #expect(held != nil)
        cache.store(
            AccessToken(account: "b", value: SecureBytes(utf8: "token-b"), expiresAt: expiry, obtainedFromServer: true)
        )
        #expect(held == nil, "the evicted token's buffer is still referenced")
        #expect(cache.token(for: "a", validFor: .zero, now: Date()) == nil)
        // Handed-out tokens are copies: the caller's survives eviction.
        let copy = cache.token(for: "b", validFor: .zero, now: Date())
        cache.remove("b")
        #expect(copy?.value == SecureBytes(utf8: "token-b"))
    }

    @Test("the cache never puts back a token that expires sooner than the one it holds")
    func neverOlder() {
        let cache = AccessTokenCache(limit: 4)
        let now = Date()
        let later = AccessToken(
            account: "a",
            value: SecureBytes(utf8: "new"),
            expiresAt: now.addingTimeInterval(3600),
            obtainedFromServer: true
        )
        let sooner = AccessToken(
            account: "a",
            value: SecureBytes(utf8: "old"),
            expiresAt: now.addingTimeInterval(1800),
            obtainedFromServer: false
        )
        cache.store(later)
        cache.store(sooner)  // a reader that read the record before the other's commit
        #expect(cache.token(for: "a", validFor: .zero, now: now)?.value == SecureBytes(utf8: "new"))
        cache.remove("a", ifHolding: SecureBytes(utf8: "new"))
        cache.store(sooner)
        #expect(cache.token(for: "a", validFor: .zero, now: now)?.value == SecureBytes(utf8: "old"))
    }

    @Test("100 concurrent 401s for one tenant → one refresh, and everyone gets the new token")
    func burstOf401s() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            let (provider, _) = try await h.countingProvider(Self.caching())
            let refused = try await provider.accessToken(for: "acme")
            h.server.resetStats()
            h.server.injectFaults([.slow(seconds: 0.2)])  // the refresh stays in flight while the 401s pile up
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<100 {
                    group.addTask { try await provider.refresh("acme", ifStillUsing: refused).value.string }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(h.server.stats.refreshGrants == 1)
            #expect(Set(tokens).count == 1)
            #expect(tokens[0] != refused.value.string)
            #expect(h.server.isAccessTokenValid(tokens[0]))
            // A late 401 for the old token takes the new one too.
            let late = try await provider.refresh("acme", ifStillUsing: refused)
            #expect(late.value.string == tokens[0])
            #expect(h.server.stats.refreshGrants == 1)
        }
    }

    @Test("401s on two instances of one vault → one refresh between them")
    func burstAcrossInstances() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            let (one, _) = try await h.countingProvider(Self.caching())
            let (two, _) = try await h.countingProvider(Self.caching())
            let refused = try await one.accessToken(for: "acme")
            #expect(try await two.accessToken(for: "acme").value == refused.value)
            h.server.resetStats()
            h.server.injectFaults([.slow(seconds: 0.2)])
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<40 {
                    let provider = index.isMultiple(of: 2) ? one : two
                    group.addTask { try await provider.refresh("acme", ifStillUsing: refused).value.string }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(h.server.stats.refreshGrants == 1)
            #expect(Set(tokens).count == 1)
        }
    }

    @Test("a 401 with a token no longer stored takes the stored one without a request")
    func staleTokenTakesStored() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            let (provider, _) = try await h.countingProvider(Self.caching())
            let old = try await provider.accessToken(for: "acme")
            let new = try await h.provider.refresh("acme")  // another instance refreshed meanwhile
            h.server.resetStats()
            let taken = try await provider.refresh("acme", ifStillUsing: old)
            #expect(taken.value == new.value)
            #expect(h.server.stats.tokenRequests == 0)
        }
    }

    @Test("a 401 that meets invalid_grant marks the account; later 401s and calls fail without a request")
    func reauthRequiredRefused() async throws {
        try await withHarness { h in
            // A stored access token that is still valid, and a refresh token the server never issued (invalid_grant).
            try await h.vault.addAccount(
                Account(
                    name: "acme",
                    mode: .refreshToken,
                    clientID: Harness.clientID,
                    tokenURL: h.server.tokenURL,
                    accessTokenExpiresAt: Date().addingTimeInterval(3600)
                ),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: Harness.clientSecret),
                    refreshToken: SecureBytes(utf8: "rt_not_issued_by_the_server"),
                    accessToken: SecureBytes(utf8: "at_refused_by_the_api")
                )
            )
            let (provider, _) = try await h.countingProvider(Self.caching())
            let token = try await provider.accessToken(for: "acme")
            #expect(!token.obtainedFromServer)
            await expectOAuthError(.reauthorizationRequired) { try await provider.refresh("acme", ifStillUsing: token) }
            h.server.resetStats()
            await expectOAuthError(.reauthorizationRequired) { try await provider.refresh("acme", ifStillUsing: token) }
            await expectOAuthError(.reauthorizationRequired) { try await provider.accessToken(for: "acme") }
            #expect(h.server.stats.tokenRequests == 0)
        }
    }
}

extension AccessTokenCache {
    /// The cache's own buffer for `name` (tests only: to watch its release).
    func heldBuffer(for name: AccountName) -> SecureBytes? { peekEntry(name)?.token }
}
