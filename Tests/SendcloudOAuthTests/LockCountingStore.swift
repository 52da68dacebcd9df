import CredentialVault
import Foundation
import Synchronization

/// A real store with a counter on its account lock: forwards every call to `base` (a real SQLite store) and counts
/// the acquisitions of each account's lock and the account reads, so that a test can tell the in-process single flight (one acquisition
/// for many callers) from the store lock's serialisation (one acquisition per caller, each re-reading the result).
final class LockCountingStore: CredentialStore {
    let base: any CredentialStore
    private let counts = Mutex<[AccountName: Int]>([:])
    private let reads = Mutex(0)

    init(_ base: any CredentialStore) { self.base = base }

    /// How many account rows were read (`accountRow(named:)`): each `openAccount` reads one.
    var accountReads: Int { reads.withLock { $0 } }

    /// How many times `name`'s lock was acquired.
    func acquisitions(of name: AccountName) -> Int { counts.withLock { $0[name, default: 0] } }

    func withAccountLock<T: Sendable>(
        _ name: AccountName,
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        try await base.withAccountLock(name, timeout: timeout, isolation: isolation) {
            counts.withLock { $0[name, default: 0] += 1 }
            return try await body()
        }
    }

    func withEveryAccountLock<T: Sendable>(
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        try await base.withEveryAccountLock(timeout: timeout, isolation: isolation, body)
    }

    var storageLocation: String { base.storageLocation }
    func recordLocation(_ location: String) async throws { try await base.recordLocation(location) }
    func importAccounts(_ rows: [AccountRow], replacing expectedGenerations: [AccountName: Int64]) async throws {
        try await base.importAccounts(rows, replacing: expectedGenerations)
    }
    func headerRow() async throws -> VaultHeaderRow? { try await base.headerRow() }
    func createVault(header: VaultHeaderRow, slots: [KeySlotRow]) async throws {
        try await base.createVault(header: header, slots: slots)
    }
    func slotRows() async throws -> [KeySlotRow] { try await base.slotRows() }
    func addSlot(_ slot: KeySlotRow) async throws -> Int64 { try await base.addSlot(slot) }
    func replaceSlot(id: Int64, with slot: KeySlotRow, expectedWrappedKey: StoreValue) async throws {
        try await base.replaceSlot(id: id, with: slot, expectedWrappedKey: expectedWrappedKey)
    }
    func removeSlot(id: Int64, expectedSlots: [KeySlotRow]) async throws {
        try await base.removeSlot(id: id, expectedSlots: expectedSlots)
    }
    func accountRow(named name: AccountName) async throws -> AccountRow? {
        reads.withLock { $0 += 1 }
        return try await base.accountRow(named: name)
    }
    func accountRows() async throws -> [AccountRow] { try await base.accountRows() }
    func accountRows(after: String?, limit: Int) async throws -> [AccountRow] {
        try await base.accountRows(after: after, limit: limit)
    }
    func dueAccountRows(_ query: DueAccountQuery) async throws -> [AccountRow] { try await base.dueAccountRows(query) }
    func insert(_ row: AccountRow) async throws { try await base.insert(row) }
    func update(_ row: AccountRow, expectedGeneration: Int64) async throws {
        try await base.update(row, expectedGeneration: expectedGeneration)
    }
    func deleteAccount(named name: AccountName) async throws -> Bool { try await base.deleteAccount(named: name) }
    func upgradeFormat(
        rows: [AccountRow],
        expectedGenerations: [AccountName: Int64],
        formatVersion: Int?,
        accountCount: Int
    ) async throws {
        try await base.upgradeFormat(
            rows: rows,
            expectedGenerations: expectedGenerations,
            formatVersion: formatVersion,
            accountCount: accountCount
        )
    }
    func rotate(
        expectedKeyID: Int64,
        newKeyID: Int64,
        expectedSlots: [KeySlotRow],
        slots: [KeySlotRow],
        rows: [AccountRow],
        expectedGenerations: [AccountName: Int64]
    ) async throws {
        try await base.rotate(
            expectedKeyID: expectedKeyID,
            newKeyID: newKeyID,
            expectedSlots: expectedSlots,
            slots: slots,
            rows: rows,
            expectedGenerations: expectedGenerations
        )
    }
    func checkStorage() async throws -> [VaultError] { try await base.checkStorage() }
    func accountStatusCounts(now: Date) async throws -> [AccountStatusCount] {
        try await base.accountStatusCounts(now: now)
    }
    func claimSingleUse(_ key: [UInt8], expiresAt: Date) async throws -> Bool {
        try await base.claimSingleUse(key, expiresAt: expiresAt)
    }
}
