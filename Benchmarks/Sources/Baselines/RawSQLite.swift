internal import GRDBSQLite

/// The floor for the store: the SQLite C API on the vault file, prepared statements kept, no wrapper around it.
/// The same statements as the store's hot path, with the same settings (WAL, `synchronous=FULL`, `secure_delete`).
public final class RawSQLite {
    private var db: OpaquePointer?
    private var select: OpaquePointer?
    private var page: OpaquePointer?
    private var begin: OpaquePointer?
    private var readGeneration: OpaquePointer?
    private var readRow: OpaquePointer?
    private var update: OpaquePointer?
    private var commit: OpaquePointer?
    /// The columns the compare-and-swap writes: every one but the name, as the store's.
    private let written: [String]
    /// SQLITE_TRANSIENT: SQLite copies the value before the bind returns.
    private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// Opens `path` and prepares: the point read of every account column by name; and the compare-and-swap
    /// transaction of the store's shape: `BEGIN IMMEDIATE`, read the generation, `UPDATE` every column but the
    /// name `WHERE name = ? AND generation = ?`, `COMMIT`.
    public init(path: String, columns: [String]) {
        written = columns.filter { $0 != "name" }
        precondition(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK)
        exec("PRAGMA synchronous = FULL")
        exec("PRAGMA secure_delete = ON")
        sqlite3_busy_timeout(db, 30_000)
        select = prepare("SELECT \(columns.joined(separator: ", ")) FROM account WHERE name = ?")
        page = prepare("SELECT \(columns.joined(separator: ", ")) FROM account WHERE name > ? ORDER BY name LIMIT ?")
        begin = prepare("BEGIN IMMEDIATE")
        readGeneration = prepare("SELECT generation FROM account WHERE name = ?")
        readRow = prepare("SELECT \(written.joined(separator: ", ")) FROM account WHERE name = ?")
        update = prepare(
            "UPDATE account SET " + written.map { "\($0) = ?" }.joined(separator: ", ")
                + " WHERE name = ? AND generation = ?"
        )
        commit = prepare("COMMIT")
    }

    deinit {
        for statement in [select, page, begin, readGeneration, readRow, update, commit] { sqlite3_finalize(statement) }
        sqlite3_close(db)
    }

    /// Reads every column of `name`, copying each blob out as the store must; returns the column count.
    public func pointRead(_ name: String) -> Int {
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

    /// Reads up to `limit` accounts after `name` in name order, every column of each, copying the blobs out; returns
    /// the number of rows.
    public func pageRead(after name: String, limit: Int) -> Int {
        bind(page, 1, name)
        sqlite3_bind_int64(page, 2, Int64(limit))
        defer { sqlite3_reset(page) }
        var rows = 0
        while sqlite3_step(page) == SQLITE_ROW {
            for index in 0..<sqlite3_column_count(page) where sqlite3_column_type(page, index) == SQLITE_BLOB {
                let length = Int(sqlite3_column_bytes(page, index))
                blackHole([UInt8](UnsafeRawBufferPointer(start: sqlite3_column_blob(page, index), count: length)))
            }
            rows += 1
        }
        return rows
    }

    /// One durable compare-and-swap of `name`: the three sealed values replaced by `values`, `updated_at` set to
    /// `now`, the generation + 1, every other column written with its current value. Those values are read first,
    /// by a point read of the row inside the call (a few µs beside the fsync): the store has them from its caller.
    public func compareAndSwap(_ name: String, values: [[UInt8]], now: Double) {
        bind(readRow, 1, name)
        precondition(sqlite3_step(readRow) == SQLITE_ROW)
        step(begin)
        bind(readGeneration, 1, name)
        precondition(sqlite3_step(readGeneration) == SQLITE_ROW)
        let generation = sqlite3_column_int64(readGeneration, 0)
        sqlite3_reset(readGeneration)
        for (index, column) in written.enumerated() {
            let parameter = Int32(index + 1)
            if let sealed = ["client_secret", "refresh_token", "access_token"].firstIndex(of: column) {
                _ = values[sealed].withUnsafeBytes {
                    sqlite3_bind_blob(update, parameter, $0.baseAddress, Int32($0.count), transient)
                }
            } else if column == "updated_at" {
                sqlite3_bind_double(update, parameter, now)
            } else if column == "generation" {
                sqlite3_bind_int64(update, parameter, generation + 1)
            } else {
                sqlite3_bind_value(update, parameter, sqlite3_column_value(readRow, Int32(index)))
            }
        }
        sqlite3_reset(readRow)
        bind(update, Int32(written.count + 1), name)
        sqlite3_bind_int64(update, Int32(written.count + 2), generation)
        step(update)
        precondition(sqlite3_changes(db) == 1)
        step(commit)
    }

    @inline(never) private func blackHole(_ value: [UInt8]) { precondition(value.count < 1 << 30) }

    private func exec(_ sql: String) { precondition(sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK) }

    private func prepare(_ sql: String) -> OpaquePointer? {
        var statement: OpaquePointer?
        precondition(sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, String(cString: sqlite3_errmsg(db)))
        return statement
    }

    private func bind(_ statement: OpaquePointer?, _ index: Int32, _ text: String) {
        _ = sqlite3_bind_text(statement, index, text, -1, transient)
    }

    private func step(_ statement: OpaquePointer?) {
        let rc = sqlite3_step(statement)
        precondition(rc == SQLITE_DONE || rc == SQLITE_ROW, String(cString: sqlite3_errmsg(db)))
        sqlite3_reset(statement)
    }
}
