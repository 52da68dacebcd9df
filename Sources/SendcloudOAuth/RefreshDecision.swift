import CredentialVault
import Foundation

/// What ``TokenProvider`` does for a token request, decided from the account's metadata alone: reuse the stored
/// access token, take the token another holder obtained meanwhile, ask the token endpoint, or refuse.
///
/// A pure function of its inputs (the clock comes in as `now`), so each boundary is tested without a server or a
/// vault. The provider decides twice: before it takes the account's lock (``beforeLock(_:hasUsableToken:reuseIfValidFor:retryReauthorization:now:)``)
/// and again under it, on the record re-read there
/// (``underLock(_:hasUsableToken:observedRefreshedAt:reuseIfValidFor:retryReauthorization:keepAliveBefore:now:)``).
enum RefreshDecision: Equatable, Sendable {
    /// Why a request is refused without contacting the server.
    enum Refusal: Equatable, Sendable {
        /// The account is marked `reauth-required` and the caller did not ask to try again.
        case reauthorizationRequired
        /// A `basic` account has no access token.
        case basicMode
    }

    /// Return the stored access token: it stays valid for longer than the window.
    case reuseStored
    /// Return the stored access token that another holder obtained while this caller waited for the lock (no
    /// window check: single-flight waiters take the holder's result).
    case takeOthersToken
    /// Obtain a new token from the token endpoint.
    case refresh
    /// Fail without contacting the server.
    case refuse(Refusal)

    /// The decision before the account's lock is taken, on the record the caller read.
    ///
    /// - Parameters:
    ///   - hasUsableToken: whether a stored access token fit for a header is present.
    ///   - reuseIfValidFor: reuse the stored token while it stays valid for longer than this (strictly); `nil`
    ///     never reuses (an explicit refresh).
    ///   - retryReauthorization: try a `reauth-required` account again instead of refusing.
    static func beforeLock(
        _ account: Account,
        hasUsableToken: Bool,
        reuseIfValidFor window: Duration?,
        retryReauthorization: Bool,
        now: Date
    ) -> RefreshDecision {
        if account.mode == .basic { return .refuse(.basicMode) }
        if account.status == .reauthRequired && !retryReauthorization { return .refuse(.reauthorizationRequired) }
        if let window, hasUsableToken, validForLonger(account, than: window, now: now) { return .reuseStored }
        return .refresh
    }

    /// The decision under the account's lock, on the record re-read there.
    ///
    /// "Another holder refreshed" means `refreshedAt` moved past `observedRefreshedAt` (what the caller saw before
    /// waiting) — not merely that the generation changed (a recorded failure or a key rotation also bumps it); its
    /// token is taken while it has not expired. Otherwise as ``beforeLock(_:hasUsableToken:reuseIfValidFor:retryReauthorization:now:)``,
    /// except that only an `ok` account's token is reused, and — keep-alive — a `refresh-token` account last
    /// refreshed at or before `keepAliveBefore` (or never) is refreshed whatever its token's expiry, so that its
    /// refresh token is used before the server lets it expire.
    static func underLock(
        _ account: Account,
        hasUsableToken: Bool,
        observedRefreshedAt: Date?,
        reuseIfValidFor window: Duration?,
        retryReauthorization: Bool,
        keepAliveBefore: Date? = nil,
        now: Date
    ) -> RefreshDecision {
        if account.mode == .basic { return .refuse(.basicMode) }
        let refreshedMeanwhile =
            account.refreshedAt.map { seen in observedRefreshedAt.map { seen > $0 } ?? true } ?? false
        if refreshedMeanwhile, account.status == .ok, hasUsableToken,
            let expiry = account.accessTokenExpiresAt, expiry > now
        {
            return .takeOthersToken
        }
        if account.status == .reauthRequired && !retryReauthorization { return .refuse(.reauthorizationRequired) }
        let keepAliveDue =
            account.mode == .refreshToken
            && keepAliveBefore.map { before in account.refreshedAt.map { $0 <= before } ?? true } ?? false
        if let window, account.status == .ok, hasUsableToken, !keepAliveDue,
            validForLonger(account, than: window, now: now)
        {
            return .reuseStored
        }
        return .refresh
    }

    /// Whether the account's access token expires strictly later than `window` after `now`.
    private static func validForLonger(_ account: Account, than window: Duration, now: Date) -> Bool {
        guard let expiry = account.accessTokenExpiresAt else { return false }
        return expiry.timeIntervalSince(now) > window.inSeconds
    }
}
