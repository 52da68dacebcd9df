import Foundation

// Decoding and encoding the header row.
extension VaultHeader {
    /// Decodes `row`. Throws ``VaultError/Code/integrityFailure`` for a missing vault id or a key id that is not a
    /// 32-bit unsigned integer; an unknown format version is refused by ``CredentialVault/open(_:with:logger:)``.
    package init(row: VaultHeaderRow) throws(VaultError) {
        guard let vaultID = row[.vaultID].blob, let keyID = row[.keyID].integer.flatMap({ UInt32(exactly: $0) })
        else { throw .integrity("the vault header is malformed") }
        let format = row[.formatVersion].integer.flatMap { Int(exactly: $0) } ?? -1
        let created = row[.createdAt].real.flatMap { StoredAccount.dateRange.contains($0) ? $0 : nil } ?? 0
        self.init(
            vaultID: vaultID,
            formatVersion: format,
            keyID: keyID,
            createdAt: Date(timeIntervalSince1970: created),
            location: row[.location].text
        )
    }

    /// The row a store keeps.
    package var row: VaultHeaderRow {
        VaultHeaderRow([
            .vaultID: .blob(vaultID), .formatVersion: .integer(Int64(formatVersion)), .keyID: .integer(Int64(keyID)),
            .createdAt: .real(createdAt.timeIntervalSince1970), .location: location.map { .text($0) } ?? .null,
        ])
    }
}
