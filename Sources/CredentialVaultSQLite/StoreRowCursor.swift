import CredentialVault
import GRDB
internal import GRDBSQLite

/// Rows of a prepared statement decoded column by column into ``StoreRow``s, straight from SQLite's column
/// accessors: the hot path of ``SQLiteCredentialStore/accountRow(named:)`` (BENCHMARKS.md, "Reading one account").
/// GRDB's `Row` indexes the statement's column names, lowercased, each time one is made, and holds each blob as
/// `Data` before it is copied again; this copies each value once.
///
/// Every read of this store decodes its rows here, so one rule holds for all of them: a value keeps its storage
/// class and its bytes. SQLite stores any bytes as TEXT; a TEXT value that holds a NUL byte or is not valid UTF-8
/// (possible only in a file altered outside sendcloud-vault) is handed over as the blob of its bytes, never as a
/// repaired or truncated string (C-string decoding stops at a NUL, lenient decoding replaces invalid sequences), so
/// that a name or URL read back is never a different one. The core, which expects text there, reports that row
/// as damaged (a name that is not text does not move a page boundary: `AccountPage`).
///
/// A GRDB `DatabaseCursor`: valid only inside the database access that made it. It resets the statement when it
/// goes away, which ends the statement's read transaction.
final class StoreRowCursor<Column: StoreColumn>: DatabaseCursor {
    typealias Element = StoreRow<Column>
    let _statement: Statement
    var _isDone = false
    /// Where each of the statement's result columns goes in a row (``StoreColumn/position``), in the statement's order.
    private let positions: [Int]
    /// A row of NULLs, copied for each row read.
    private let empty = StoreRow<Column>()

    init(_ statement: Statement, arguments: StatementArguments, columns: [Column]) throws {
        _statement = statement
        positions = columns.map(\.position)
        assert(Column.allCases.enumerated().allSatisfy { $0.element.position == $0.offset }, "\(Column.self) positions")
        try statement.setArguments(arguments)  // resets the statement, then binds
    }

    deinit { sqlite3_reset(_statement.sqliteStatement) }

    func _element(sqliteStatement: SQLiteStatement) throws -> StoreRow<Column> {
        var values = empty.orderedValues
        for (index, position) in positions.enumerated() {
            values[position] = Self.value(sqliteStatement, Int32(index))
        }
        return StoreRow(orderedValues: values)
    }

    /// The value of column `index` as stored: its storage class kept, except for TEXT that is not a valid string
    /// (see the type's description).
    static func value(_ statement: SQLiteStatement, _ index: Int32) -> StoreValue {
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER:
            return .integer(sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT:
            return .real(sqlite3_column_double(statement, index))
        case SQLITE_TEXT:
            let bytes = sqlite3_column_text(statement, index)
            let count = Int(sqlite3_column_bytes(statement, index))
            let buffer = UnsafeBufferPointer(start: bytes, count: bytes == nil ? 0 : count)
            guard !buffer.contains(0), let text = String(validating: buffer, as: UTF8.self) else {
                return .blob(Array(buffer))
            }
            return .text(text)
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(statement, index))
            guard count > 0, let bytes = sqlite3_column_blob(statement, index) else { return .blob([]) }
            return .blob([UInt8](UnsafeRawBufferPointer(start: bytes, count: count)))
        default:
            return .null
        }
    }
}
