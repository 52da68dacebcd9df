import Foundation

// The core's view of a store: rows decoded and validated on the way in (``StoredAccount/init(row:)``,
// ``KeySlot/init(row:)``, ``VaultHeader/init(row:)``) and encoded on the way out. ``CredentialVault`` reads and
// writes through these only, so every driver's rows get the same checks.
extension CredentialStore {
    /// The decoded header, or `nil` if there is no vault.
    package func header() async throws -> VaultHeader? {
        try await headerRow().map { row throws(VaultError) in try VaultHeader(row: row) }
    }

    package func createVault(header: VaultHeader, slots: [KeySlot]) async throws {
        try await createVault(header: header.row, slots: slots.map(\.row))
    }

    /// Every slot row, each decoded or with its decoding error naming the slot.
    package func slotRecords() async throws -> [Result<KeySlot, VaultError>] {
        try await slotRows().map { row in Result { () throws(VaultError) in try KeySlot(row: row) } }
    }

    /// The slots that decode, ordered by id (a damaged row is left out; see ``slotRecords()``).
    package func slots() async throws -> [KeySlot] {
        try await slotRecords().compactMap { try? $0.get() }
    }

    /// Stores `slot` and returns it with the id assigned.
    package func addSlot(_ slot: KeySlot) async throws -> KeySlot {
        var stored = slot
        stored.id = try await addSlot(slot.row)
        return stored
    }

    /// Replaces slot `previous.id` with `slot` if it still holds `previous`'s wrapped key.
    package func replaceSlot(_ slot: KeySlot, expecting previous: KeySlot) async throws {
        try await replaceSlot(id: previous.id, with: slot.row, expectedWrappedKey: .blob(previous.wrappedKey))
    }

    /// Deletes slot `id` unless it is the last slot that decodes and wraps the current key
    /// (``VaultError/Code/invalidInput``); ``VaultError/Code/notFound`` if there is no such slot. The check and the
    /// deletion are one compare-and-swap on the slot rows.
    package func removeSlot(id: Int64) async throws {
        let rows = try await slotRows()
        guard rows.contains(where: { $0[.id] == .integer(id) }) else {
            throw VaultError(.notFound, "no key slot \(id)")
        }
        let keyID = try await header()?.keyID
        // Only slots that decode count: a damaged row cannot open the vault.
        let working = rows.compactMap { try? KeySlot(row: $0) }.filter { $0.id != id && $0.keyID == keyID }
        guard !working.isEmpty else {
            throw VaultError.invalid(
                "key slot \(id) is the last one that opens the vault; add another before removing it"
            )
        }
        try await removeSlot(id: id, expectedSlots: rows)
    }

    /// The decoded record of `name`, or `nil`.
    package func account(named name: AccountName) async throws -> StoredAccount? {
        try await accountRow(named: name).map { row throws(VaultError) in try StoredAccount(row: row) }
    }

    /// Every record, ordered by name, each decoded or with its decoding error (one damaged row must not hide the
    /// others from `verify` or the refresher).
    package func accountRecords() async throws -> [Result<StoredAccount, VaultError>] {
        try await accountRows().map { row in Result { () throws(VaultError) in try StoredAccount(row: row) } }
    }

    /// A page of records (``accountRows(after:limit:)``, checked as an ``AccountPage``), each decoded or with its
    /// decoding error, and the name to ask for the next page after (`nil` when this page is the last).
    package func accountRecordPage(
        after: String?,
        limit: Int
    ) async throws -> (records: [Result<StoredAccount, VaultError>], next: String?) {
        let page = try AccountPage(try await accountRows(after: after, limit: limit), after: after, limit: limit)
        return (page.rows.map { row in Result { () throws(VaultError) in try StoredAccount(row: row) } }, page.next)
    }

    /// Every record, ordered by name; throws the first decoding error.
    package func accounts() async throws -> [StoredAccount] {
        try await accountRecords().map { try $0.get() }
    }

    package func insert(_ record: StoredAccount) async throws { try await insert(record.row) }

    package func update(_ record: StoredAccount, expectedGeneration: Int64) async throws {
        try await update(record.row, expectedGeneration: expectedGeneration)
    }

    package func rotate(
        expectedKeyID: UInt32,
        newKeyID: UInt32,
        expectedSlots: [KeySlotRow],
        slots: [KeySlot],
        records: [StoredAccount],
        expectedGenerations: [AccountName: Int64]
    ) async throws {
        try await rotate(
            expectedKeyID: Int64(expectedKeyID),
            newKeyID: Int64(newKeyID),
            expectedSlots: expectedSlots,
            slots: slots.map(\.row),
            rows: records.map(\.row),
            expectedGenerations: expectedGenerations
        )
    }

    package func upgradeFormat(
        records: [StoredAccount],
        expectedGenerations: [AccountName: Int64],
        formatVersion: Int?,
        accountCount: Int
    ) async throws {
        try await upgradeFormat(
            rows: records.map(\.row),
            expectedGenerations: expectedGenerations,
            formatVersion: formatVersion,
            accountCount: accountCount
        )
    }
}
