public import CredentialVault
public import Foundation
import PostgresNIO

// Accounts by status for a metrics gauge: one aggregate statement.
extension PostgresCredentialStore {
    /// `SELECT status, backing off, count(*) … GROUP BY`: the predicate of
    /// ``AccountStatusCount/isBackingOff(_:now:)`` (NULL is not backing off; NaN and infinity, which PostgreSQL
    /// orders above every number, fail `<= last valid date`). Reads no sealed column; the `account_by_status` index
    /// can serve it.
    public func accountStatusCounts(now: Date) async throws -> [AccountStatusCount] {
        try await rows(accountStatusCountsQuery(now: now)).map { row in
            var cells = row.makeIterator()
            guard let status = cells.next(), let backingOff = cells.next(), let count = cells.next() else {
                throw VaultError(.storage, "the counts by status came back without their columns")
            }
            return AccountStatusCount(
                status: try Self.value(status),
                backingOff: try backingOff.decode(Bool.self),
                count: Int(try count.decode(Int64.self))
            )
        }
    }

    func accountStatusCountsQuery(now: Date) -> PostgresQuery {
        var binds = PostgresBindings()
        binds.append(now.timeIntervalSince1970)
        binds.append(DueAccountQuery.latestValidDate)
        return PostgresQuery(
            unsafeSQL: """
                SELECT status, coalesce(next_attempt_at > $1::float8 AND next_attempt_at <= $2::float8, false),
                count(*) FROM \(sql.account) GROUP BY 1, 2
                """,
            binds: binds
        )
    }

    /// The plan of the counts query with sequential scans disabled: whether the status index can serve it. For tests.
    package func accountStatusCountsQueryPlan() async throws -> [String] {
        try await queryPlan(accountStatusCountsQuery(now: Date()))
    }
}
