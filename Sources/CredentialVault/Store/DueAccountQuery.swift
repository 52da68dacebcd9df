public import Foundation

/// Which accounts a refresher should renew now: a store query that reads no sealed value and uses an index
/// (``CredentialStore/dueAccountRows(_:)``).
///
/// An account is due when it is not `basic`, its status is `ok`, its next attempt time (if any) has passed, and
/// either its access token expires before ``expiringBefore`` (or none is stored) or — keep-alive — it is a
/// `refresh-token` account last refreshed before ``refreshedBefore`` (or never). With ``everyTokenAccount``, every
/// account that is not `basic` is due, whatever its status and times. A row whose expiry is not a valid date (past
/// ``latestValidDate``, or not a number) is selected too, so that the core reports it as damaged rather than the
/// account silently never being renewed.
public struct DueAccountQuery: Sendable, Equatable {
    /// The last date a stored timestamp may hold, in seconds since 1970 (9999-12-31T23:59:59Z).
    public static let latestValidDate: Double = 253_402_300_799

    /// Access tokens expiring at or before this date are due.
    public var expiringBefore: Date
    /// Refresh-token accounts last refreshed at or before this date are due (keep-alive), if set.
    public var refreshedBefore: Date?
    /// Accounts whose next attempt time is after this date are not due (they back off after a failure).
    public var now: Date
    /// Every non-`basic` account, `reauth-required` ones and backing-off ones included.
    public var everyTokenAccount: Bool
    /// Only names after this one (paging: the last name of the previous page, as stored); `nil` for the first page.
    public var after: String?
    /// At most this many rows, ordered by name; at least 1.
    public var limit: Int { didSet { limit = max(1, limit) } }

    /// Creates a query; `limit` is at least 1.
    public init(
        expiringBefore: Date,
        refreshedBefore: Date? = nil,
        now: Date = Date(),
        everyTokenAccount: Bool = false,
        after: String? = nil,
        limit: Int = 500
    ) {
        self.expiringBefore = expiringBefore
        self.refreshedBefore = refreshedBefore
        self.now = now
        self.everyTokenAccount = everyTokenAccount
        self.after = after
        self.limit = max(1, limit)
    }

    /// Whether the metadata of one account matches: the query's normative meaning, which SQL stores implement in
    /// their query and the in-memory store applies as it is. Any value that is not a valid date (not a number, or
    /// past ``latestValidDate``) counts as due, and so does a status other than `reauth-required`, so that a damaged
    /// row reaches the core's decoder and is reported instead of the account silently never being renewed.
    public func matches(_ row: AccountRow) -> Bool {
        guard row[.mode] != .text(AccountMode.basic.rawValue) else { return false }
        if let after, !Self.sortsAfter(row[.name], after) { return false }
        if everyTokenAccount { return true }
        guard row[.status] != .text(AccountStatus.reauthRequired.rawValue) else { return false }
        if Self.seconds(row[.nextAttemptAt]).map({ $0 > now.timeIntervalSince1970 }) ?? false { return false }
        if Self.seconds(row[.accessTokenExpiresAt]).map({ $0 <= expiringBefore.timeIntervalSince1970 }) ?? true {
            return true
        }
        guard let refreshedBefore, row[.mode] == .text(AccountMode.refreshToken.rawValue) else { return false }
        return Self.seconds(row[.refreshedAt]).map { $0 <= refreshedBefore.timeIntervalSince1970 } ?? true
    }

    /// A valid stored date in seconds, or `nil` for NULL and for anything that is not one (then the row is due).
    private static func seconds(_ value: StoreValue) -> Double? {
        guard let seconds = value.real, seconds <= latestValidDate else { return nil }
        return seconds
    }

    /// SQLite's order of a name after the text `after`: text compares by bytes; blobs sort after all text.
    private static func sortsAfter(_ name: StoreValue, _ after: String) -> Bool {
        switch name {
        case .text(let text): after.utf8.lexicographicallyPrecedes(text.utf8)
        case .blob: true
        default: false
        }
    }
}
