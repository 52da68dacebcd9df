/// The columns of one of a store's tables: the column names are the raw values, the same in every SQL store.
public protocol StoreColumn: RawRepresentable<String>, CaseIterable, Hashable, Sendable
where AllCases == [Self] {}

/// One row of a store's table, as primitive column values (``StoreValue``); a column not set is NULL.
///
/// A driver fills rows from its database and writes them back column by column, without interpreting them; the
/// core builds and decodes them (``StoredAccount``, ``KeySlot``, ``VaultHeader``).
public struct StoreRow<Column: StoreColumn>: Sendable, Hashable {
    private var values: [Column: StoreValue]

    /// A row of NULLs (with room for every column: a row is filled column by column on every read).
    public init() { values = Dictionary(minimumCapacity: Column.allCases.count) }

    /// A row with `values`; columns left out are NULL.
    public init(_ values: [Column: StoreValue]) { self.values = values.filter { !$0.value.isNull } }

    /// The value of `column` (``StoreValue/null`` if unset).
    public subscript(column: Column) -> StoreValue {
        get { values[column] ?? .null }
        set { values[column] = newValue.isNull ? nil : newValue }
    }

    /// The values in the order of `Column.allCases` (for binding to an INSERT or UPDATE).
    public var orderedValues: [StoreValue] { Column.allCases.map { self[$0] } }
}

extension StoreRow: CustomStringConvertible {
    /// Column classes and sizes only (``StoreValue/description``).
    public var description: String {
        "(" + Column.allCases.map { "\($0.rawValue): \(self[$0])" }.joined(separator: ", ") + ")"
    }
}

/// A row of the account table.
public typealias AccountRow = StoreRow<AccountColumn>
/// A row of the key slot table.
public typealias KeySlotRow = StoreRow<KeySlotColumn>
/// The vault's header row.
public typealias VaultHeaderRow = StoreRow<VaultHeaderColumn>

extension StoreRow where Column == AccountColumn {
    /// The generation a rotation or format upgrade expects this row's stored version to have, from the
    /// `expectedGenerations` its caller passed: for a driver's compare-and-swap of each row. Throws
    /// ``VaultError/Code/conflict`` if the row's name is not one of them.
    public func expectedGeneration(in expectedGenerations: [AccountName: Int64]) throws(VaultError) -> Int64 {
        guard let name = self[.name].text.flatMap({ try? AccountName($0) }), let expected = expectedGenerations[name]
        else {
            throw VaultError(.conflict, "no expected generation for an account of the rotation")
        }
        return expected
    }
}
