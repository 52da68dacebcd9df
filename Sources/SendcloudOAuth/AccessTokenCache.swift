import CredentialVault
import Foundation
import Synchronization

/// The access tokens a long-running ``TokenProvider`` holds in memory (DESIGN §5): a hit returns a token without a
/// store read or a decryption.
///
/// Bounded: at most `limit` accounts, the least recently used evicted first (1M tenants × ~1 KiB would otherwise be
/// 1 GiB). The cache keeps its own copy of each token and hands out copies, so an evicted or replaced entry's buffer
/// has no other reference: releasing it runs ``SecureBytes``' deinit, which zeroes it.
final class AccessTokenCache: Sendable {
    struct Entry {
        var token: SecureBytes
        var expiresAt: Date
        var obtainedAt: Date?
    }

    private let entries: Mutex<LeastRecentlyUsed<AccountName, Entry>>
    /// The most accounts held.
    let limit: Int

    /// A cache of at most `limit` accounts; 0 holds nothing.
    init(limit: Int) {
        self.limit = max(0, limit)
        entries = Mutex(LeastRecentlyUsed(capacity: max(0, limit)))
    }

    /// A copy of the token held for `name`, if it stays valid for longer than `window` after `now`; an expired entry
    /// is dropped.
    func token(for name: AccountName, validFor window: Duration, now: Date) -> AccessToken? {
        guard limit > 0 else { return nil }
        let entry: Entry? = entries.withLock { entries in
            guard let entry = entries[name] else { return nil }
            guard entry.expiresAt > now else {
                entries.removeValue(forKey: name)
                return nil
            }
            return entry
        }
        guard let entry, entry.expiresAt.timeIntervalSince(now) > window.inSeconds else { return nil }
        return AccessToken(
            account: name,
            value: entry.token.copy(),
            expiresAt: entry.expiresAt,
            obtainedFromServer: false,
            obtainedAt: entry.obtainedAt
        )
    }

    /// Holds a copy of `token` (one with a known expiry) for its account, replacing what was held — unless what is
    /// held is newer (obtained later, or, when either issue time is unknown, expiring later): a caller that read the
    /// record before another's commit must not put the older token back.
    func store(_ token: AccessToken) {
        guard limit > 0, let expiresAt = token.expiresAt else { return }
        let entry = Entry(token: token.value.copy(), expiresAt: expiresAt, obtainedAt: token.obtainedAt)
        // The replaced or evicted entries are released after the lock (their buffers are zeroed on release).
        let released = entries.withLock { entries -> [Entry] in
            if let held = entries.peek(token.account), Self.isNewer(held, than: entry) { return [entry] }
            return entries.set(entry, forKey: token.account)
        }
        _ = released
    }

    /// Drops the entry of `name` if it holds `token` (or whatever it holds when `token` is `nil`).
    func remove(_ name: AccountName, ifHolding token: SecureBytes? = nil) {
        let released: Entry? = entries.withLock { entries in
            guard let entry = entries.peek(name) else { return nil }
            if let token, entry.token != token { return nil }
            return entries.removeValue(forKey: name)
        }
        _ = released
    }

    /// Whether `held` was obtained after `other` (by issue time when both are known, else by expiry).
    private static func isNewer(_ held: Entry, than other: Entry) -> Bool {
        if let heldAt = held.obtainedAt, let otherAt = other.obtainedAt { return heldAt > otherAt }
        return held.expiresAt > other.expiresAt
    }

    /// How many accounts are held.
    var count: Int { entries.withLock { $0.count } }

    /// Whether `name` is held (without refreshing its recency).
    func contains(_ name: AccountName) -> Bool { peekEntry(name) != nil }

    /// The entry of `name`, without refreshing its recency.
    func peekEntry(_ name: AccountName) -> Entry? { entries.withLock { $0.peek(name) } }
}

extension SecureBytes {
    /// A copy in a buffer of its own.
    func copy() -> SecureBytes { withUnsafeBytes { SecureBytes(copying: $0) } }
}
