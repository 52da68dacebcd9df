package import CredentialVault
import Foundation
import PostgresNIO

// The refresher's query (DueAccountQuery) in SQL.
extension PostgresCredentialStore {
    /// The predicate of ``DueAccountQuery/matches(_:)``: candidates by expiry (and, for keep-alive, by last refresh)
    /// through the two indexes, then mode, status and next attempt; paged by name in byte order (`COLLATE "C"`).
    /// Reads only the metadata columns. A value that is not a valid date (past the last valid date, infinite, or NaN,
    /// which PostgreSQL orders above every number) selects the row, so that the core reports it.
    func dueAccountsQuery(_ query: DueAccountQuery) throws -> PostgresQuery {
        var binds = PostgresBindings()
        var next = 0
        func parameter(_ value: some PostgresDynamicTypeEncodable, _ cast: String) -> String {
            binds.append(value)
            next += 1
            return "$\(next)\(cast)"
        }
        let columns = PostgresStatements.list(AccountColumn.metadata)
        var sql = "SELECT \(columns) FROM \(self.sql.account) WHERE mode IS DISTINCT FROM "
        sql += parameter(AccountMode.basic.rawValue, "::text")
        if let after = query.after {
            guard !after.utf8.contains(0) else { throw VaultError(.invalidInput, "a page boundary holds NUL") }
            sql += " AND name > " + parameter(after, "::text")
        }
        if !query.everyTokenAccount {
            let invalid = parameter(DueAccountQuery.latestValidDate, "::float8")
            let expiring = parameter(query.expiringBefore.timeIntervalSince1970, "::float8")
            let now = parameter(query.now.timeIntervalSince1970, "::float8")
            let reauth = parameter(AccountStatus.reauthRequired.rawValue, "::text")
            func notValidOrAtMost(_ column: String, _ bound: String) -> String {
                "(\(column) IS NULL OR \(column) <= \(bound) OR \(column) > \(invalid))"
            }
            var due = notValidOrAtMost("access_token_expires_at", expiring)
            if let refreshedBefore = query.refreshedBefore {
                let refreshed = parameter(refreshedBefore.timeIntervalSince1970, "::float8")
                let refreshToken = parameter(AccountMode.refreshToken.rawValue, "::text")
                due = "(\(due) OR (mode = \(refreshToken) AND \(notValidOrAtMost("refreshed_at", refreshed))))"
            }
            sql += " AND \(due) AND status IS DISTINCT FROM \(reauth)"
            sql += " AND (next_attempt_at IS NULL OR next_attempt_at <= \(now) OR next_attempt_at > \(invalid))"
        }
        sql += " ORDER BY name LIMIT " + parameter(Int64(query.limit), "::bigint")
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    /// The plan of the due-accounts query with sequential scans disabled (EXPLAIN): whether the indexes can serve it
    /// (the planner prefers a scan on a small table either way). For tests.
    package func dueAccountsQueryPlan(_ query: DueAccountQuery) async throws -> [String] {
        try await queryPlan(try dueAccountsQuery(query))
    }

    /// The plan of `explained` with sequential scans disabled (EXPLAIN, in a transaction rolled back). For tests.
    func queryPlan(_ explained: PostgresQuery) async throws -> [String] {
        try await withQueryConnection { connection in
            try await connection.answer("BEGIN", logger: logger)
            let rows: [PostgresRow]
            do {
                try await connection.answer("SET LOCAL enable_seqscan = off", logger: logger)
                rows = try await Self.collect(
                    connection.answer(
                        PostgresQuery(unsafeSQL: "EXPLAIN " + explained.sql, binds: explained.binds),
                        logger: logger
                    )
                )
            } catch {
                _ = try? await connection.answer("ROLLBACK", logger: logger)
                throw error
            }
            try await connection.answer("ROLLBACK", logger: logger)
            return try rows.map { try $0.decode(String.self) }
        }
    }
}
