import CredentialVault
import Foundation
import GRDB

// Rows in and out: SQLite's values handed over as they are (StoreValue), never interpreted here; the core decodes
// and validates them. Out, every value goes through StoreRowCursor (one decoding rule); in, through `databaseValue`.
extension StoreValue {
    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let v): v.databaseValue
        case .real(let v): v.databaseValue
        case .text(let v): v.databaseValue
        case .blob(let v): Data(v).databaseValue
        }
    }
}

extension SQLiteCredentialStore {
    /// The rows that `sql` selects, its result columns being `columns` in that order, each value as stored
    /// (``StoreRowCursor``: the one decoding rule of every read).
    static func storeRows<C: StoreColumn>(
        _ db: Database,
        sql: String,
        _ columns: [C],
        arguments: StatementArguments = []
    ) throws -> [StoreRow<C>] {
        try Array(StoreRowCursor(db.makeStatement(sql: sql), arguments: arguments, columns: columns))
    }

    /// The statements of the per-account hot path (read one, insert, compare-and-swap), built once and prepared once
    /// per connection (GRDB's statement cache).
    enum AccountSQL {
        /// The rows that are accounts: those whose name is text. SQLite's columns are dynamically typed, so a file
        /// altered outside sendcloud-vault may hold a row named by a blob; it is in no list or page (a blob sorts
        /// after every text, where no page boundary could pass it), and ``SQLiteCredentialStore/checkStorage()``
        /// reports it.
        static let isAccount = "typeof(name) = 'text'"
        static let columns = AccountColumn.allCases
        static let updated = columns.filter { $0 != .name }
        static let selectByName =
            "SELECT \(columns.map(\.rawValue).joined(separator: ", ")) FROM account WHERE name = ?"
        static let insert =
            "INSERT INTO account (\(columns.map(\.rawValue).joined(separator: ", "))) VALUES ("
            + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
        static let compareAndSwap =
            "UPDATE account SET " + updated.map { "\($0.rawValue) = ?" }.joined(separator: ", ")
            + " WHERE name = ? AND generation = ?"
    }

    static func accountRow(named name: String, _ db: Database) throws -> AccountRow? {
        let statement = try db.cachedStatement(sql: AccountSQL.selectByName)
        return try StoreRowCursor(statement, arguments: [name], columns: AccountSQL.columns).next()
    }

    static func fetchRows<C: StoreColumn>(
        _ db: Database,
        _ table: String,
        _ columns: [C] = C.allCases,
        where condition: String = "",
        orderBy: String,
        arguments: StatementArguments = []
    ) throws -> [StoreRow<C>] {
        let names = columns.map(\.rawValue).joined(separator: ", ")
        let sql = "SELECT \(names) FROM \(table) \(condition) ORDER BY \(orderBy)"
        return try storeRows(db, sql: sql, columns, arguments: arguments)
    }

    static func arguments(_ values: [StoreValue]) -> StatementArguments {
        StatementArguments(values.map { $0.databaseValue as (any DatabaseValueConvertible)? })
    }

    static func headerRow(_ db: Database) throws -> VaultHeaderRow? {
        let rows: [VaultHeaderRow] = try fetchRows(db, "vault_header", where: "WHERE id = 1", orderBy: "id")
        return rows.first
    }

    /// Refuses (``VaultError/Code/conflict``) a row sealed under a key id that is not the header's. On every write
    /// path: one cached statement (preparing one costs more than running it).
    static func requireCurrentKey(_ keyID: StoreValue, _ db: Database) throws {
        let statement = try db.cachedStatement(
            sql: "SELECT \(VaultHeaderColumn.keyID.rawValue) FROM vault_header WHERE id = 1"
        )
        guard let current = try StoreRowCursor(statement, arguments: [], columns: [VaultHeaderColumn.keyID]).next()
        else {
            throw VaultError(.noVault, "no vault has been created here")
        }
        guard current[.keyID] == keyID else {
            throw VaultError(.conflict, "the data key was rotated meanwhile; open the vault again")
        }
    }

    static func insertSlot(_ slot: KeySlotRow, _ db: Database, keepingID: Bool) throws -> Int64 {
        let columns = KeySlotColumn.allCases.filter { keepingID || $0 != .id }
        try db.execute(
            sql: "INSERT INTO key_slot (\(columns.map(\.rawValue).joined(separator: ", "))) VALUES ("
                + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")",
            arguments: arguments(columns.map { slot[$0] })
        )
        return db.lastInsertedRowID
    }

    static func insertAccount(_ row: AccountRow, _ db: Database) throws {
        try db.cachedStatement(sql: AccountSQL.insert).execute(arguments: arguments(row.orderedValues))
    }

    /// Writes `row` over the stored one if its generation is still `expectedGeneration`.
    static func compareAndSwap(_ row: AccountRow, expectedGeneration: Int64, _ db: Database) throws {
        try db.cachedStatement(sql: AccountSQL.compareAndSwap).execute(
            arguments: arguments(AccountSQL.updated.map { row[$0] } + [row[.name], .integer(expectedGeneration)])
        )
        if db.changesCount == 0 {
            let exists =
                try Bool.fetchOne(db, sql: "SELECT 1 FROM account WHERE name = ?", arguments: arguments([row[.name]]))
                != nil
            let name = (row[.name].text ?? "").prefix(128)
            if exists { throw VaultError(.conflict, "'\(name)' changed since it was read (generation)") }
            throw VaultError(.notFound, "no account named '\(name)'")
        }
    }

    /// The due-accounts query: candidates from the two indexes (expiry; last refresh, for keep-alive), then the
    /// conditions on mode, status and next attempt, paged by name. Reads only the metadata columns. The predicate is
    /// ``DueAccountQuery/matches(_:)``'s, including its rule that a value which is not a valid date (past the last
    /// valid date, or not a number: SQLite orders text and blobs after numbers) selects the row, so that the core
    /// reports it as damaged instead of the account silently never being renewed.
    static func dueAccountsSQL(_ query: DueAccountQuery) -> (String, StatementArguments) {
        let columns = AccountColumn.metadata.map(\.rawValue).joined(separator: ", ")
        var values: [StoreValue] = [.text(AccountMode.basic.rawValue)]
        var sql = "SELECT \(columns) FROM account WHERE \(AccountSQL.isAccount) AND mode IS NOT ?"
        if let after = query.after {
            sql += " AND name > ?"
            values.append(.text(after))
        }
        if !query.everyTokenAccount {
            let invalid = StoreValue.real(DueAccountQuery.latestValidDate)
            let expiring = StoreValue.real(query.expiringBefore.timeIntervalSince1970)
            let expiry =
                "access_token_expires_at IS NULL OR access_token_expires_at <= ? OR access_token_expires_at > ?"
            var candidates = "SELECT name FROM account WHERE \(expiry)"
            var candidateValues = [expiring, invalid]
            var keepAlive = ""
            var keepAliveValues: [StoreValue] = []
            if let refreshed = query.refreshedBefore.map({ StoreValue.real($0.timeIntervalSince1970) }) {
                let stale = "refreshed_at IS NULL OR refreshed_at <= ? OR refreshed_at > ?"
                candidates += " UNION SELECT name FROM account WHERE \(stale)"
                candidateValues += [refreshed, invalid]
                keepAlive = " OR (mode = ? AND (\(stale)))"
                keepAliveValues = [.text(AccountMode.refreshToken.rawValue), refreshed, invalid]
            }
            sql += " AND name IN (\(candidates)) AND status IS NOT ?"
            sql += " AND (next_attempt_at IS NULL OR next_attempt_at <= ? OR next_attempt_at > ?)"
            sql += " AND (\(expiry)\(keepAlive))"
            values += candidateValues
            values += [.text(AccountStatus.reauthRequired.rawValue), .real(query.now.timeIntervalSince1970), invalid]
            values += [expiring, invalid] + keepAliveValues
        }
        sql += " ORDER BY name LIMIT ?"
        values.append(.integer(Int64(query.limit)))
        return (sql, arguments(values))
    }

    /// Accounts by status and backing off (``AccountStatusCount/isBackingOff(_:now:)``: text and blobs compare
    /// greater than any number, so `<= last valid date` excludes them), from the covering index `account_by_status`.
    /// Arguments: now, the last valid date.
    static let accountStatusCountsSQL = """
        SELECT status, coalesce(next_attempt_at > ? AND next_attempt_at <= ?, 0) AS backing_off, count(*)
        FROM account GROUP BY status, backing_off
        """

    /// Runs a GRDB access, turning `DatabaseError` into ``VaultError`` without echoing SQL arguments.
    func run<T: Sendable>(
        _ access: (@Sendable (Database) throws -> T) async throws -> T,
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        do {
            return try await access(body)
        } catch let error as DatabaseError {
            throw Self.mapped(error)
        }
    }

    static func mapped(_ error: DatabaseError) -> VaultError {
        let detail = "SQLite error \(error.resultCode.rawValue): \(error.message ?? "unknown")"
        switch error.resultCode {
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return VaultError(
                .integrityFailure,
                "the vault file is corrupt or not a vault (\(detail))",
                underlying: error
            )
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return VaultError(
                .lockTimeout,
                "the vault file stayed locked by another process (\(detail))",
                underlying: error
            )
        default:
            return VaultError(.storage, detail, underlying: error)
        }
    }
}
