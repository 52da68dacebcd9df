import CredentialVault
import Foundation
import SendcloudTesting
import Testing

@testable import SendcloudOAuth

/// DESIGN §5's refresher behaviour: per-account backoff stored with the account (so every instance honours it),
/// `reauth-required` accounts skipped, keep-alive of idle refresh tokens.
@Suite("Refresher: backoff, reauth-required, keep-alive")
struct RefresherBehaviourTests {
    static func refresher(_ provider: TokenProvider, maxAge: Duration? = .seconds(7 * 24 * 3600)) -> TokenRefresher {
        var configuration = TokenRefresher.Configuration()
        configuration.jitter = .zero
        configuration.maxRefreshTokenAge = maxAge
        return TokenRefresher(provider: provider, configuration: configuration, logger: provider.logger)
    }

    /// Sets an account's metadata through the vault (its secrets unchanged), as another instance's write would.
    static func edit(_ h: Harness, _ name: AccountName, _ change: (inout Account) -> Void) async throws {
        let (account, secrets) = try await h.vault.openAccount(named: name)
        var updated = account
        change(&updated)
        _ = try await h.vault.updateAccount(updated, secrets: secrets, expectedGeneration: account.generation)
    }

    @Test("a failed refresh counts a failure and sets the next attempt within the backoff; success clears both")
    func failureBackoffRecorded() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            h.server.setPermanentFault(.internalServerError)
            let before = Date()
            await expectOAuthError(.serverError) { try await h.provider.refresh("acme") }
            let once = try await h.vault.account(named: "acme")
            #expect(once.consecutiveFailures == 1)
            let initial = h.provider.configuration.failureBackoff.initial.inSeconds
            let next = try #require(once.nextAttemptAt)
            #expect(next >= before.addingTimeInterval(initial / 2) && next <= Date().addingTimeInterval(initial))
            await expectOAuthError(.serverError) { try await h.provider.refresh("acme") }
            let twice = try await h.vault.account(named: "acme")
            #expect(twice.consecutiveFailures == 2)
            // At least half of twice the initial limit.
            #expect(try #require(twice.nextAttemptAt) >= Date().addingTimeInterval(initial - 1))
            h.server.setPermanentFault(nil)
            _ = try await h.provider.refresh("acme")
            let healed = try await h.vault.account(named: "acme")
            #expect(healed.consecutiveFailures == 0)
            #expect(healed.nextAttemptAt == nil)
            #expect(healed.lastError == nil)
        }
    }

    @Test("a 429 with a long Retry-After keeps the account back at least that long")
    func retryAfterHonoured() async throws {
        try await withHarness { h in
            try await h.addClientCredentialsAccount("acme")
            // Longer than the client waits (it gives up at once), and longer than the first backoff (1 min).
            h.server.setPermanentFault(.tooManyRequests(retryAfter: 600))
            let before = Date()
            let error = await expectOAuthError(.rateLimited) { try await h.provider.refresh("acme") }
            #expect(error?.retryAfter == .seconds(600))
            #expect(h.server.stats.tokenRequests == 1)
            let next = try #require(try await h.vault.account(named: "acme").nextAttemptAt)
            #expect(next >= before.addingTimeInterval(600))
            #expect(try await Self.refresher(h.provider).dueAccounts().isEmpty)
        }
    }

    @Test("FailureBackoff doubles per failure up to its maximum, never below half the limit")
    func backoffShape() {
        let backoff = FailureBackoff(initial: .seconds(60), maximum: .seconds(3600))
        let now = Date(timeIntervalSince1970: 1_000_000)
        var generator = SystemRandomNumberGenerator()
        for (failures, limit) in [(1, 60.0), (2, 120.0), (3, 240.0), (7, 3600.0), (40, 3600.0)] {
            for _ in 0..<200 {
                let wait = backoff.nextAttempt(afterFailures: failures, now: now, using: &generator)
                    .timeIntervalSince(now)
                #expect(wait >= limit / 2 && wait <= limit, "failure \(failures): \(wait) s")
            }
        }
    }

    @Test("an account backing off is skipped by every instance's pass until its next attempt time")
    func backoffHonouredByTwoInstances() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            try await h.addRefreshAccount("zeta")
            h.server.setPermanentFault(.internalServerError)
            // Instance one's pass fails for both.
            let first = try await Self.refresher(h.provider).refreshDue()
            #expect(first.count == 2)
            h.server.setPermanentFault(nil)
            h.server.resetStats()
            try await h.withSecondProvider { second in
                // Instance two sees both backing off: nothing due, nothing sent.
                #expect(try await Self.refresher(second).dueAccounts().isEmpty)
                #expect(try await Self.refresher(second).refreshDue().isEmpty)
                #expect(h.server.stats.tokenRequests == 0)
                // Once acme's next attempt has come (set in the past, as time passing would), it alone is due.
                try await Self.edit(h, "acme") { $0.nextAttemptAt = Date().addingTimeInterval(-1) }
                #expect(try await Self.refresher(second).dueAccounts() == ["acme"])
                let outcomes = try await Self.refresher(second).refreshDue()
                #expect(outcomes.map(\.account) == ["acme"])
                #expect(h.server.stats.refreshGrants == 1)
                #expect(try await Self.refresher(h.provider).dueAccounts().isEmpty)
            }
            // A named refresh (an operator's, or a caller's) is not held back by the backoff.
            _ = try await h.provider.refresh("zeta")
            #expect(try await h.vault.account(named: "zeta").consecutiveFailures == 0)
        }
    }

    @Test("reauth-required accounts are skipped by a pass, and retried only when forced")
    func reauthSkipped() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("gone", refreshToken: "rt_not_issued_by_the_server")
            try await h.addRefreshAccount("ok")
            let outcomes = try await Self.refresher(h.provider).refreshDue()
            #expect(outcomes.count == 2)
            #expect(try await h.vault.account(named: "gone").status == .reauthRequired)
            h.server.resetStats()
            #expect(try await Self.refresher(h.provider).dueAccounts().isEmpty)
            #expect(try await Self.refresher(h.provider).dueAccounts(force: true).sorted() == ["gone", "ok"])
            #expect(h.server.stats.tokenRequests == 0)
        }
    }

    @Test("keep-alive refreshes an idle refresh-token account, and only that one")
    func keepAlive() async throws {
        try await withHarness { h in
            for name: AccountName in ["idle", "recent"] {
                try await h.addRefreshAccount(name)
                _ = try await h.provider.refresh(name)  // a valid access token, for an hour
            }
            try await h.addClientCredentialsAccount("client")
            _ = try await h.provider.accessToken(for: "client")
            let idleToken = try #require(try await h.vault.openAccount(named: "idle").secrets.refreshToken?.string)
            let eightDaysAgo = Date().addingTimeInterval(-8 * 24 * 3600)
            try await Self.edit(h, "idle") { $0.refreshedAt = eightDaysAgo }
            try await Self.edit(h, "client") { $0.refreshedAt = eightDaysAgo }  // no refresh token: no keep-alive
            h.server.resetStats()
            let outcomes = try await Self.refresher(h.provider).refreshDue()
            #expect(outcomes.map(\.account) == ["idle"])
            #expect(h.server.stats.refreshGrants == 1)
            #expect(h.server.stats.clientCredentialsGrants == 0)
            let (idle, secrets) = try await h.vault.openAccount(named: "idle")
            #expect(try #require(idle.refreshedAt) > Date().addingTimeInterval(-60))
            #expect(secrets.refreshToken?.string != idleToken, "the refresh token was not renewed")
            // Turned off, nothing is due.
            try await Self.edit(h, "idle") { $0.refreshedAt = eightDaysAgo }
            #expect(try await Self.refresher(h.provider, maxAge: nil).dueAccounts().isEmpty)
        }
    }
}
