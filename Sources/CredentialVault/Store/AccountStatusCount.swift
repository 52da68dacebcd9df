public import Foundation

/// How many accounts hold one stored status, split by whether they are backing off: one group of
/// ``CredentialStore/accountStatusCounts(now:)``'s answer, which ``CredentialVault/accountCounts(now:)`` sums into
/// ``AccountCounts``.
///
/// The status is the column's value as stored, not interpreted by the store (a tampered row may hold anything), so
/// that the core decides what counts as `ok`.
public struct AccountStatusCount: Sendable, Hashable {
    /// The `status` column's value.
    public var status: StoreValue
    /// Whether these accounts' next attempt time is a valid date after the query's `now` (``isBackingOff(_:now:)``).
    public var backingOff: Bool
    /// How many accounts, at least 1.
    public var count: Int

    /// Creates a group.
    public init(status: StoreValue, backingOff: Bool, count: Int) {
        self.status = status
        self.backingOff = backingOff
        self.count = count
    }

    /// Whether a stored next attempt time means "backing off at `now`": a number after `now` and no later than
    /// ``DueAccountQuery/latestValidDate``. NULL, text, bytes and numbers past the last valid date are not (the due
    /// query selects such rows, so that the core reports them). The normative predicate of the SQL stores' queries.
    public static func isBackingOff(_ nextAttemptAt: StoreValue, now: Date) -> Bool {
        guard let seconds = nextAttemptAt.real, seconds <= DueAccountQuery.latestValidDate else { return false }
        return seconds > now.timeIntervalSince1970
    }

    /// The groups of `rows`, as a store without SQL computes them (ordered by count, largest first, for stable
    /// output; callers must not rely on the order).
    public static func counting(_ rows: some Sequence<AccountRow>, now: Date) -> [AccountStatusCount] {
        var counts: [Key: Int] = [:]
        for row in rows {
            counts[Key(status: row[.status], backingOff: isBackingOff(row[.nextAttemptAt], now: now)), default: 0] += 1
        }
        return counts.map { AccountStatusCount(status: $0.key.status, backingOff: $0.key.backingOff, count: $0.value) }
            .sorted { $0.count > $1.count }
    }

    private struct Key: Hashable {
        var status: StoreValue
        var backingOff: Bool
    }
}
