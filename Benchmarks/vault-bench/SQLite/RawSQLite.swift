internal import GRDBSQLite

/// The floor for the store: the SQLite C API on the vault file, prepared statements kept, no wrapper around it.
/// The same statements as the store's hot path, with the same settings (WAL, `synchronous=FULL`).
final class RawSQLite {
    private var db: OpaquePointer?
    private var select: OpaquePointer?
    private var begin: OpaquePointer?
    private var readGeneration: OpaquePointer?
    private var update: OpaquePointer?
    private var commit: OpaquePointer?

    /// Opens `path` and prepares: the point read of every account column by name; and the compare-and-swap
    /// transaction `BEGIN IMMEDIATE`, read the generation, `UPDATE` the three sealed values, `updated_at` and the
    /// generation `WHERE name = ? AND generation = ?`, `COMMIT`.
    init(path: String, columns: [String]) {
        precondition(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK)
        exec("PRAGMA synchronous = FULL")
        exec("PRAGMA secure_delete = ON")
        sqlite3_busy_timeout(db, 30_000)
        select = prepare("SELECT \(columns.joined(separator: ", ")) FROM account WHERE name = ?")
        begin = prepare("BEGIN IMMEDIATE")
        readGeneration = prepare("SELECT generation FROM account WHERE name = ?")
        update = prepare(
            "UPDATE account SET client_secret = ?, refresh_token = ?, access_token = ?, updated_at = ?, "
                + "generation = ? WHERE name = ? AND generation = ?"
        )
        commit = prepare("COMMIT")
    }

    deinit {
        for statement in [select, begin, readGeneration, update, commit] { sqlite3_finalize(statement) }
        sqlite3_close(db)
    }

    /// Reads every column of `name`, copying each blob out as the store must; returns the column count.
    func pointRead(_ name: String) -> Int {
        bind(select, 1, name)
        defer { sqlite3_reset(select) }
        guard sqlite3_step(select) == SQLITE_ROW else { return 0 }
        let count = Int(sqlite3_column_count(select))
        var bytes = 0
        for index in 0..<Int32(count) where sqlite3_column_type(select, index) == SQLITE_BLOB {
            let length = Int(sqlite3_column_bytes(select, index))
            let copy = [UInt8](UnsafeRawBufferPointer(start: sqlite3_column_blob(select, index), count: length))
            bytes += copy.count
        }
        precondition(bytes > 0)
        return count
    }

    /// One durable compare-and-swap of `name`'s three sealed values.
    func compareAndSwap(_ name: String, values: [[UInt8]], now: Double) {
        step(begin)
        bind(readGeneration, 1, name)
        precondition(sqlite3_step(readGeneration) == SQLITE_ROW)
        let generation = sqlite3_column_int64(readGeneration, 0)
        sqlite3_reset(readGeneration)
        for (index, value) in values.enumerated() {
            _ = value.withUnsafeBytes {
                sqlite3_bind_blob(update, Int32(index + 1), $0.baseAddress, Int32($0.count), nil)
            }
        }
        sqlite3_bind_double(update, 4, now)
        sqlite3_bind_int64(update, 5, generation + 1)
        bind(update, 6, name)
        sqlite3_bind_int64(update, 7, generation)
        step(update)
        precondition(sqlite3_changes(db) == 1)
        step(commit)
    }

    private func exec(_ sql: String) { precondition(sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK) }

    private func prepare(_ sql: String) -> OpaquePointer? {
        var statement: OpaquePointer?
        precondition(sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, String(cString: sqlite3_errmsg(db)))
        return statement
    }

    private func bind(_ statement: OpaquePointer?, _ index: Int32, _ text: String) {
        // SQLITE_TRANSIENT: SQLite copies the text before this returns.
        _ = sqlite3_bind_text(statement, index, text, -1, unsafeBitCast(-1, to: sqlite3_destructor_type.self))
    }

    private func step(_ statement: OpaquePointer?) {
        let rc = sqlite3_step(statement)
        precondition(rc == SQLITE_DONE || rc == SQLITE_ROW, String(cString: sqlite3_errmsg(db)))
        sqlite3_reset(statement)
    }
}
