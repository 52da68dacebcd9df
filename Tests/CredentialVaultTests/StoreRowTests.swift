import Testing

@testable import CredentialVault

@Suite("Store rows")
struct StoreRowTests {
    /// Every column's `position` is its index in `allCases`, and no two columns share one.
    func positionsAreIndexes<Column: StoreColumn>(_: Column.Type) {
        for (index, column) in Column.allCases.enumerated() {
            #expect(column.position == index, "\(Column.self).\(column) is at \(index), says \(column.position)")
        }
    }

    @Test("each table's column positions are the columns' indexes in allCases")
    func positions() {
        positionsAreIndexes(AccountColumn.self)
        positionsAreIndexes(KeySlotColumn.self)
        positionsAreIndexes(VaultHeaderColumn.self)
    }

    @Test("a row holds what was set in each column, NULL elsewhere, in allCases order")
    func valuesByColumn() {
        var row = AccountRow()
        #expect(AccountColumn.allCases.allSatisfy { row[$0] == .null })
        row[.name] = .text("acme")
        row[.generation] = .integer(7)
        row[.accessToken] = .blob([1, 2, 3])
        #expect(row[.name] == .text("acme"))
        #expect(row[.generation] == .integer(7))
        #expect(row[.accessToken] == .blob([1, 2, 3]))
        #expect(row[.clientID] == .null)
        let ordered = row.orderedValues
        #expect(ordered.count == AccountColumn.allCases.count)
        for (index, column) in AccountColumn.allCases.enumerated() { #expect(ordered[index] == row[column]) }

        row[.name] = .null
        #expect(row[.name] == .null)
        #expect(row == AccountRow([.generation: .integer(7), .accessToken: .blob([1, 2, 3]), .scopes: .null]))
        #expect(row != AccountRow([.generation: .integer(8), .accessToken: .blob([1, 2, 3])]))
    }
}
