import Foundation

// Decoding and encoding a key slot row. Bounds of the values (salt and wrap lengths, KDF limits) are checked by
// `SlotCipher.validate` before any use.
extension KeySlot {
    /// Decodes `row`: the classes of its columns and a known kind. Throws ``VaultError/Code/integrityFailure``
    /// naming the slot otherwise.
    package init(row: KeySlotRow) throws(VaultError) {
        let id = row[.id].integer ?? 0
        guard let keyID = row[.keyID].integer.flatMap({ UInt32(exactly: $0) }), let wrapped = row[.wrappedKey].blob
        else { throw .integrity("key slot \(id) is malformed") }
        let kind: Kind
        switch row[.kind].text {
        case "passphrase":
            guard let salt = row[.salt].blob else { throw .integrity("key slot \(id) has no salt") }
            // Negative or missing limits become UInt64.max, which the KDF bounds check rejects before any hashing.
            let ops = row[.opsLimit].integer.flatMap { UInt64(exactly: $0) } ?? .max
            let mem = row[.memLimit].integer.flatMap { UInt64(exactly: $0) } ?? .max
            kind = .passphrase(salt: salt, opsLimit: ops, memLimit: mem)
        case "key-file":
            kind = .keyFile
        default:
            throw .integrity("key slot \(id) has an unknown kind")
        }
        let created = row[.createdAt].real.flatMap { StoredAccount.dateRange.contains($0) ? $0 : nil } ?? 0
        func optionalText(_ column: KeySlotColumn) throws(VaultError) -> String? {
            switch row[column] {
            case .null: return nil
            case .text(let text) where !text.isEmpty && text.utf8.count <= 256: return text
            default: throw .integrity("key slot \(id) has a malformed \(column.rawValue)")
            }
        }
        self.init(
            id: id,
            kind: kind,
            keyID: keyID,
            wrappedKey: wrapped,
            createdAt: Date(timeIntervalSince1970: created),
            label: try optionalText(.label),
            fingerprint: try optionalText(.fingerprint)
        )
    }

    /// The row a store keeps (with ``id``; stores ignore it when they assign one).
    package var row: KeySlotRow {
        var row = KeySlotRow([
            .id: .integer(id), .kind: .text(kind.name), .keyID: .integer(Int64(keyID)), .wrappedKey: .blob(wrappedKey),
            .createdAt: .real(createdAt.timeIntervalSince1970), .label: label.map { .text($0) } ?? .null,
            .fingerprint: fingerprint.map { .text($0) } ?? .null,
        ])
        if case .passphrase(let salt, let ops, let mem) = kind {
            row[.salt] = .blob(salt)
            row[.opsLimit] = .integer(Int64(clamping: ops))
            row[.memLimit] = .integer(Int64(clamping: mem))
        }
        return row
    }
}
