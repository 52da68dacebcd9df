package import CredentialVault
package import FuzzSupport

/// A store row (``StoreRow``) built from fuzz bytes, as a driver hands over a tampered or corrupt table: any column
/// may be missing, NULL, or hold any of SQLite's storage classes, whatever the schema says.
///
/// Format, for each column in the order given: a tag byte (`tag % 6`) then the value.
///
///     0 absent      the column is not in the row (a table altered behind the store's back)
///     1 NULL
///     2 INTEGER     8 bytes, little-endian Int64
///     3 REAL        8 bytes, little-endian IEEE 754 bit pattern (NaN becomes NULL, as SQLite stores it)
///     4 TEXT        2-byte little-endian length, then UTF-8 (cut at the first NUL, invalid bytes repaired: what
///                   GRDB reads back through `sqlite3_column_text`)
///     5 BLOB        2-byte little-endian length, then the bytes
///
/// Lengths are clamped to what is left; columns past the end of the input are absent.
package enum FuzzRow {
    /// One column value in the fuzz format.
    package enum Value: Sendable {
        case absent
        case null
        case integer(Int64)
        case real(Double)
        case text(String)
        case blob([UInt8])
    }

    /// Reads one value per column, in the order of `C.allCases`, and builds the row.
    package static func read<C: StoreColumn>(_ type: C.Type, from input: inout FuzzInput) -> StoreRow<C> {
        var row = StoreRow<C>()
        for column in C.allCases {
            switch readValue(&input) {
            case .absent, .null: continue
            case .integer(let value): row[column] = .integer(value)
            case .real(let value): row[column] = value.isNaN ? .null : .real(value)
            case .text(let value): row[column] = .text(value)
            case .blob(let value): row[column] = .blob(value)
            }
        }
        return row
    }

    private static func readValue(_ input: inout FuzzInput) -> Value {
        switch input.byte() % 6 {
        case 1: return .null
        case 2: return .integer(Int64(bitPattern: input.uint64()))
        case 3: return .real(Double(bitPattern: input.uint64()))
        case 4:
            let bytes = input.chunk()
            return .text(String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self))
        case 5: return .blob(input.chunk())
        default: return .absent
        }
    }

    /// The fuzz encoding of `values` (for seeds), in the column order the target reads.
    package static func encode(_ values: [Value]) -> [UInt8] {
        var writer = FuzzInputWriter()
        for value in values {
            switch value {
            case .absent: writer.byte(0)
            case .null: writer.byte(1)
            case .integer(let value):
                writer.byte(2)
                writer.uint64(UInt64(bitPattern: value))
            case .real(let value):
                writer.byte(3)
                writer.uint64(value.bitPattern)
            case .text(let value):
                writer.byte(4)
                writer.chunk(Array(value.utf8))
            case .blob(let value):
                writer.byte(5)
                writer.chunk(value)
            }
        }
        return writer.bytes
    }
}
