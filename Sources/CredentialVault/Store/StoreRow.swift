/// The columns of one of a store's tables: the column names are the raw values, the same in every SQL store.
public protocol StoreColumn: RawRepresentable<String>, CaseIterable, Hashable, Sendable
where AllCases == [Self] {
    /// The column's index in `allCases`: where a ``StoreRow`` keeps its value. Each table's enum spells it out (a
    /// `switch`), so that reading a column costs an array index, not a lookup by name (StoreRowTests checks that every
    /// column's position is its index).
    var position: Int { get }
}

/// One row of a store's table, as primitive column values (``StoreValue``); a column not set is NULL.
///
/// A driver fills rows from its database and writes them back column by column, without interpreting them; the
/// core builds and decodes them (``StoredAccount``, ``KeySlot``, ``VaultHeader``).
///
/// The values sit in an array in the order of `Column.allCases`. The accessors are inlinable, so that a driver in
/// another module gets them specialized for its column type: unspecialized, each access looked up generic metadata
/// and hashed the column's name (a fifth of `list`'s time, BENCHMARKS.md).
public struct StoreRow<Column: StoreColumn>: Sendable, Hashable {
    @usableFromInline var values: [StoreValue]

    /// A row of NULLs.
    @inlinable public init() { values = Array(repeating: .null, count: Column.allCases.count) }

    /// A row with `values`; columns left out are NULL.
    @inlinable public init(_ values: [Column: StoreValue]) {
        self.init()
        for (column, value) in values { self.values[column.position] = value }
    }

    /// A row of `orderedValues`, one for each column in the order of `Column.allCases`.
    @inlinable public init(orderedValues: [StoreValue]) {
        precondition(orderedValues.count == Column.allCases.count, "a \(Column.self) row has one value per column")
        values = orderedValues
    }

    /// The value of `column` (``StoreValue/null`` if unset).
    @inlinable public subscript(column: Column) -> StoreValue {
        get { values[column.position] }
        set { values[column.position] = newValue }
    }

    /// The values in the order of `Column.allCases` (for binding to an INSERT or UPDATE).
    @inlinable public var orderedValues: [StoreValue] { values }
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
