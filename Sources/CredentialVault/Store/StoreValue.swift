/// One column value as a store holds it: the storage classes of SQLite, which every SQL store can represent.
///
/// Drivers hand these over untouched (a tampered SQLite file may hold any class in any column); the core decodes
/// and validates them (``StoredAccount/init(row:)``, ``KeySlot/init(row:)``, ``VaultHeader/init(row:)``), so that
/// no driver can forget a check. Dates are `.real` seconds since 1970; ids, generations and limits `.integer`.
public enum StoreValue: Sendable, Hashable {
    /// SQL NULL (and a column missing from a row).
    case null
    /// A 64-bit signed integer.
    case integer(Int64)
    /// A double.
    case real(Double)
    /// UTF-8 text.
    case text(String)
    /// Bytes.
    case blob([UInt8])

    /// The integer, or `nil` for any other class.
    public var integer: Int64? { if case .integer(let value) = self { value } else { nil } }
    /// The number as a double (`.real`, or an `.integer` that SQLite stored without a fraction), or `nil`.
    public var real: Double? {
        switch self {
        case .real(let value): value
        case .integer(let value): Double(value)
        default: nil
        }
    }
    /// The text, or `nil` for any other class.
    public var text: String? { if case .text(let value) = self { value } else { nil } }
    /// The bytes, or `nil` for any other class.
    public var blob: [UInt8]? { if case .blob(let value) = self { value } else { nil } }
    /// Whether it is NULL.
    public var isNull: Bool { self == .null }
}

extension StoreValue: CustomStringConvertible {
    /// The class and size, never the content (a blob is a sealed value; text may be an operator's input).
    public var description: String {
        switch self {
        case .null: "NULL"
        case .integer: "INTEGER"
        case .real: "REAL"
        case .text(let value): "TEXT(\(value.utf8.count) bytes)"
        case .blob(let value): "BLOB(\(value.count) bytes)"
        }
    }
}
