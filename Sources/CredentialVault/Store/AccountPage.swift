/// A page of account rows as a store returned it for a query paged by name (``CredentialStore/accountRows(after:limit:)``,
/// ``CredentialStore/dueAccountRows(_:)``), checked for what paging needs, whatever the store, so that a page can
/// neither repeat forever nor skip accounts:
/// - the names that are text come each after the one before, in byte order, the first after the boundary;
/// - a row whose name is not text (a tampered SQLite file) is kept, to be reported as a damaged record, but does not
///   move the boundary: a full page ends at its last text name, and the rows after it come at the head of the next
///   page, once;
/// - a full page has at least one text name (else the next page would be the same one).
/// A page that breaks a rule throws ``VaultError/Code/integrityFailure``.
package struct AccountPage: Sendable {
    /// The rows to use.
    package let rows: ArraySlice<AccountRow>
    /// The name to ask for the next page after; `nil` when this page is the last.
    package let next: String?

    /// Checks `rows`, the answer to a query for at most `limit` rows named after `after`.
    package init(_ rows: [AccountRow], after: String?, limit: Int) throws(VaultError) {
        let boundary = after.map { " after '\($0.prefix(128))'" } ?? ""
        var previous = after
        var lastNamed: Int?
        for (index, row) in rows.enumerated() {
            guard let name = row[.name].text else { continue }
            guard previous.map({ $0.utf8.lexicographicallyPrecedes(name.utf8) }) ?? true else {
                throw VaultError(.integrityFailure, "the store returned the account rows\(boundary) out of name order")
            }
            previous = name
            lastNamed = index
        }
        guard rows.count >= max(1, limit) else {
            self.rows = rows[...]
            next = nil
            return
        }
        guard let lastNamed else {
            throw VaultError(.integrityFailure, "the store returned a page of account rows\(boundary) without a name")
        }
        self.rows = rows[...lastNamed]
        next = previous
    }
}
