import CredentialVault
import Foundation
import Testing

@testable import SendcloudOAuth

@Suite("RefreshDecision: reuse, take another holder's token, refresh or refuse")
struct RefreshDecisionTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let skew: Duration = .seconds(60)

    func account(
        mode: AccountMode = .refreshToken,
        status: AccountStatus = .ok,
        expiresIn: TimeInterval? = 3600,
        refreshedAt: Date? = nil
    ) -> Account {
        Account(
            name: "acme",
            mode: mode,
            clientID: "client",
            tokenURL: "https://account.sendcloud.com/oauth2/token",
            accessTokenExpiresAt: expiresIn.map { now.addingTimeInterval($0) },
            status: status,
            refreshedAt: refreshedAt
        )
    }

    func before(
        _ account: Account,
        token: Bool = true,
        window: Duration? = .seconds(60),
        retry: Bool = false
    ) -> RefreshDecision {
        RefreshDecision.beforeLock(
            account,
            hasUsableToken: token,
            reuseIfValidFor: window,
            retryReauthorization: retry,
            now: now
        )
    }

    func under(
        _ account: Account,
        token: Bool = true,
        observed: Date? = nil,
        window: Duration? = .seconds(60),
        retry: Bool = false
    ) -> RefreshDecision {
        RefreshDecision.underLock(
            account,
            hasUsableToken: token,
            observedRefreshedAt: observed,
            reuseIfValidFor: window,
            retryReauthorization: retry,
            now: now
        )
    }

    // MARK: - Before the lock

    @Test("a token valid for longer than the skew is reused")
    func reuseBeforeLock() {
        #expect(before(account(expiresIn: 3600)) == .reuseStored)
        #expect(before(account(expiresIn: 61)) == .reuseStored)
    }

    @Test("expiry exactly at the skew, within it, past, or unknown: refresh")
    func skewBoundary() {
        #expect(before(account(expiresIn: 60)) == .refresh)
        #expect(before(account(expiresIn: 59.999)) == .refresh)
        #expect(before(account(expiresIn: -1)) == .refresh)
        #expect(before(account(expiresIn: nil)) == .refresh)
        #expect(under(account(expiresIn: 60)) == .refresh)
        #expect(under(account(expiresIn: 60.001)) == .reuseStored)
    }

    @Test("no usable stored token: refresh, however long the expiry")
    func noUsableToken() {
        #expect(before(account(expiresIn: 3600), token: false) == .refresh)
        #expect(under(account(expiresIn: 3600), token: false) == .refresh)
    }

    @Test("no window (an explicit refresh): never reuse")
    func noWindow() {
        #expect(before(account(expiresIn: 3600), window: nil) == .refresh)
        #expect(under(account(expiresIn: 3600), window: nil) == .refresh)
    }

    @Test("reauth-required: refused without retryReauthorization, refreshed with it")
    func reauthorization() {
        let marked = account(status: .reauthRequired)
        #expect(before(marked) == .refuse(.reauthorizationRequired))
        #expect(under(marked) == .refuse(.reauthorizationRequired))
        #expect(before(marked, window: nil, retry: true) == .refresh)
        #expect(under(marked, window: nil, retry: true) == .refresh)
        // Under the lock a marked account's stored token is not reused, even when it is still valid.
        #expect(under(marked, retry: true) == .refresh)
    }

    @Test("basic accounts are refused, also with retryReauthorization")
    func basic() {
        for retry in [false, true] {
            #expect(before(account(mode: .basic), retry: retry) == .refuse(.basicMode))
            #expect(under(account(mode: .basic), observed: nil, retry: retry) == .refuse(.basicMode))
        }
        let refreshed = account(mode: .basic, refreshedAt: now)
        #expect(under(refreshed, observed: now.addingTimeInterval(-10)) == .refuse(.basicMode))
    }

    // MARK: - Under the lock

    @Test("refreshedAt later than observed: take the other holder's token, without the skew check")
    func takeOthersToken() {
        let observed = now.addingTimeInterval(-100)
        let refreshed = account(expiresIn: 30, refreshedAt: now.addingTimeInterval(-1))
        #expect(under(refreshed, observed: observed) == .takeOthersToken)
        // Nothing was observed before the wait, and the account has been refreshed since.
        #expect(under(refreshed, observed: nil) == .takeOthersToken)
        // With no window as well: the holder's result is taken, not refreshed again.
        #expect(under(account(expiresIn: 30, refreshedAt: now), observed: observed, window: nil) == .takeOthersToken)
    }

    @Test("refreshedAt equal to observed: nobody refreshed meanwhile")
    func refreshedAtEqual() {
        let seen = now.addingTimeInterval(-100)
        #expect(under(account(expiresIn: 30, refreshedAt: seen), observed: seen) == .refresh)
        #expect(under(account(expiresIn: 3600, refreshedAt: seen), observed: seen) == .reuseStored)
        #expect(under(account(expiresIn: 30, refreshedAt: seen), observed: now) == .refresh)
        #expect(under(account(expiresIn: 30, refreshedAt: nil), observed: nil) == .refresh)
    }

    @Test("the other holder's token is not taken when expired, missing, or the account is not ok")
    func othersTokenUnusable() {
        let observed = now.addingTimeInterval(-100)
        #expect(under(account(expiresIn: 0, refreshedAt: now), observed: observed, window: nil) == .refresh)
        #expect(under(account(expiresIn: nil, refreshedAt: now), observed: observed, window: nil) == .refresh)
        #expect(
            under(account(expiresIn: 30, refreshedAt: now), token: false, observed: observed, window: nil) == .refresh
        )
        let marked = account(status: .reauthRequired, expiresIn: 30, refreshedAt: now)
        #expect(under(marked, observed: observed) == .refuse(.reauthorizationRequired))
        #expect(under(marked, observed: observed, retry: true) == .refresh)
    }

    @Test("before the lock, refreshedAt plays no part")
    func beforeLockIgnoresRefreshedAt() {
        #expect(before(account(expiresIn: 30, refreshedAt: now)) == .refresh)
    }
}
