public import CredentialVault
public import Foundation
import Synchronization

/// A real store with instruments: forwards every call to `base` (a real store), counts the acquisitions of each
/// account's lock and the account reads, and can run a step before each page of accounts is read.
/// - The counts let a test tell the in-process single flight (one acquisition for many callers) from the store
///   lock's serialisation (one acquisition per caller, each re-reading the result).
/// - The page step lets a test change the accounts between the pages of a `list` or `verify`, at the moment it
///   wants, instead of hoping that a concurrent task does.
public final class InstrumentedStore: CredentialStore {
    public let base: any CredentialStore
    private let counts = Mutex<[AccountName: Int]>([:])
    private let reads = Mutex(0)
    private let pageStep: (@Sendable (_ after: String?) async throws -> Void)?

    /// Forwards to `base`; `beforeEachPage` runs before each ``accountRows(after:limit:)``, with its `after`.
    public init(_ base: any CredentialStore, beforeEachPage: (@Sendable (_ after: String?) async throws -> Void)? = nil)
    {
        self.base = base
        pageStep = beforeEachPage
    }

    /// How many account rows were read (`accountRow(named:)`): each `openAccount` reads one.
    public var accountReads: Int { reads.withLock { $0 } }

    /// How many times `name`'s lock was acquired.
    public func acquisitions(of name: AccountName) -> Int { counts.withLock { $0[name, default: 0] } }

    public func withAccountLock<T: Sendable>(
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

    public func withEveryAccountLock<T: Sendable>(
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        try await base.withEveryAccountLock(timeout: timeout, isolation: isolation, body)
    }

    public var storageLocation: String { base.storageLocation }
    public func recordLocation(_ location: String) async throws { try await base.recordLocation(location) }
    public func importAccounts(_ rows: [AccountRow], replacing expectedGenerations: [AccountName: Int64]) async throws {
        try await base.importAccounts(rows, replacing: expectedGenerations)
    }
    public func headerRow() async throws -> VaultHeaderRow? { try await base.headerRow() }
    public func createVault(header: VaultHeaderRow, slots: [KeySlotRow]) async throws {
        try await base.createVault(header: header, slots: slots)
    }
    public func slotRows() async throws -> [KeySlotRow] { try await base.slotRows() }
    public func addSlot(_ slot: KeySlotRow) async throws -> Int64 { try await base.addSlot(slot) }
    public func replaceSlot(id: Int64, with slot: KeySlotRow, expectedWrappedKey: StoreValue) async throws {
        try await base.replaceSlot(id: id, with: slot, expectedWrappedKey: expectedWrappedKey)
    }
    public func removeSlot(id: Int64, expectedSlots: [KeySlotRow]) async throws {
        try await base.removeSlot(id: id, expectedSlots: expectedSlots)
    }
    public func accountRow(named name: AccountName) async throws -> AccountRow? {
        reads.withLock { $0 += 1 }
        return try await base.accountRow(named: name)
    }
    public func accountRows() async throws -> [AccountRow] { try await base.accountRows() }
    public func accountRows(after: String?, limit: Int) async throws -> [AccountRow] {
        try await pageStep?(after)
        return try await base.accountRows(after: after, limit: limit)
    }
    public func dueAccountRows(_ query: DueAccountQuery) async throws -> [AccountRow] {
        try await base.dueAccountRows(query)
    }
    public func insert(_ row: AccountRow) async throws { try await base.insert(row) }
    public func update(_ row: AccountRow, expectedGeneration: Int64) async throws {
        try await base.update(row, expectedGeneration: expectedGeneration)
    }
    public func deleteAccount(named name: AccountName) async throws -> Bool {
        try await base.deleteAccount(named: name)
    }
    public func upgradeFormat(
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
    public func rotate(
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
    public func checkStorage() async throws -> [VaultError] { try await base.checkStorage() }
    public func accountStatusCounts(now: Date) async throws -> [AccountStatusCount] {
        try await base.accountStatusCounts(now: now)
    }
    public func claimSingleUse(_ key: [UInt8], expiresAt: Date) async throws -> Bool {
        try await base.claimSingleUse(key, expiresAt: expiresAt)
    }
}
