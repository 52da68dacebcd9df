public import CredentialVault
public import Foundation
import Synchronization

/// A store that keeps everything in this process's memory: for embedders' unit tests and examples.
///
/// It passes the same conformance suite as the SQLite store, with one difference stated by its nature: **its
/// lock is in-process only.** ``withAccountLock(_:timeout:isolation:_:)`` excludes other tasks of this process that
/// use this same store object, and nothing else — there is no other process that could see the data anyway.
/// Nothing is durable: the vault is gone when the store is released. Do not use it to keep real credentials.
public final class InMemoryCredentialStore: CredentialStore {
    struct State {
        var header: VaultHeaderRow?
        var slots: [KeySlotRow] = []
        var nextSlotID: Int64 = 1
        var accounts: [String: AccountRow] = [:]
        /// Single-use claims: key → expiry in seconds since 1970.
        var claims: [[UInt8]: Double] = [:]
    }

    private let state = Mutex(State())
    let locks = InProcessLockTable()

    /// An empty store (no vault yet).
    public init() {}

    /// Runs `body` on the state as one transaction: a thrown error leaves the state as it was.
    private func transaction<T>(_ body: (inout State) throws -> T) throws -> T {
        try state.withLock { current in
            var copy = current
            let result = try body(&copy)
            current = copy
            return result
        }
    }

    private static func requireCurrentKey(_ keyID: StoreValue, _ state: State) throws {
        guard let header = state.header else { throw VaultError(.noVault, "no vault has been created here") }
        guard header[.keyID] == keyID else {
            throw VaultError(.conflict, "the data key was rotated meanwhile; open the vault again")
        }
    }

    private static func name(of row: AccountRow) -> String { row[.name].text ?? "" }

    /// Names in byte order, as SQL stores with `COLLATE BINARY` / `"C"` order them.
    private static func byteOrder(_ a: String, _ b: String) -> Bool {
        Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
    }

    private static func compareAndSwap(_ row: AccountRow, expectedGeneration: Int64, _ state: inout State) throws {
        let name = name(of: row)
        guard let stored = state.accounts[name] else {
            throw VaultError(.notFound, "no account named '\(name.prefix(128))'")
        }
        guard stored[.generation] == .integer(expectedGeneration) else {
            throw VaultError(.conflict, "'\(name.prefix(128))' changed since it was read (generation)")
        }
        state.accounts[name] = row
    }

    // MARK: - CredentialStore

    /// `memory:` and the store's address: an in-memory vault cannot be copied or moved.
    public var storageLocation: String { "memory:\(ObjectIdentifier(self).hashValue)" }

    public func recordLocation(_ location: String) async throws {
        try transaction { state in
            guard state.header != nil else { throw VaultError(.noVault, "no vault has been created here") }
            state.header?[.location] = .text(location)
        }
    }

    public func headerRow() async throws -> VaultHeaderRow? { state.withLock { $0.header } }

    public func createVault(header: VaultHeaderRow, slots: [KeySlotRow]) async throws {
        try transaction { state in
            guard state.header == nil else { throw VaultError(.vaultExists, "a vault exists already here") }
            state.header = header
            for slot in slots { Self.insertSlot(slot, &state) }
        }
    }

    @discardableResult
    private static func insertSlot(_ slot: KeySlotRow, _ state: inout State) -> Int64 {
        var slot = slot
        let id = state.nextSlotID
        state.nextSlotID += 1
        slot[.id] = .integer(id)
        state.slots.append(slot)
        return id
    }

    public func slotRows() async throws -> [KeySlotRow] { state.withLock { $0.slots } }

    public func addSlot(_ slot: KeySlotRow) async throws -> Int64 {
        try transaction { state in
            try Self.requireCurrentKey(slot[.keyID], state)
            return Self.insertSlot(slot, &state)
        }
    }

    public func replaceSlot(id: Int64, with slot: KeySlotRow, expectedWrappedKey: StoreValue) async throws {
        try transaction { state in
            try Self.requireCurrentKey(slot[.keyID], state)
            guard let index = state.slots.firstIndex(where: { $0[.id] == .integer(id) }) else {
                throw VaultError(.notFound, "no key slot \(id)")
            }
            guard state.slots[index][.wrappedKey] == expectedWrappedKey else {
                throw VaultError(.conflict, "key slot \(id) changed meanwhile; run the command again")
            }
            var replacement = slot
            replacement[.id] = .integer(id)
            state.slots[index] = replacement
        }
    }

    public func removeSlot(id: Int64, expectedSlots: [KeySlotRow]) async throws {
        try transaction { state in
            guard state.slots.contains(where: { $0[.id] == .integer(id) }) else {
                throw VaultError(.notFound, "no key slot \(id)")
            }
            guard state.slots == expectedSlots else {
                throw VaultError(.conflict, "key slots changed meanwhile; run the command again")
            }
            state.slots.removeAll { $0[.id] == .integer(id) }
        }
    }

    public func accountRow(named name: AccountName) async throws -> AccountRow? {
        state.withLock { $0.accounts[name.rawValue] }
    }

    public func accountRows() async throws -> [AccountRow] {
        state.withLock { state in state.accounts.sorted { Self.byteOrder($0.key, $1.key) }.map(\.value) }
    }

    public func accountRows(after: String?, limit: Int) async throws -> [AccountRow] {
        state.withLock { state in
            Array(
                state.accounts.filter { name, _ in after.map { Self.byteOrder($0, name) } ?? true }
                    .sorted { Self.byteOrder($0.key, $1.key) }.prefix(max(0, limit)).map(\.value)
            )
        }
    }

    public func dueAccountRows(_ query: DueAccountQuery) async throws -> [AccountRow] {
        state.withLock { state in
            state.accounts.sorted { Self.byteOrder($0.key, $1.key) }.lazy.map(\.value).filter { query.matches($0) }
                .prefix(query.limit)
                .map { row in
                    var metadata = row
                    for column in AccountColumn.sealed { metadata[column] = .null }
                    return metadata
                }
        }
    }

    public func accountStatusCounts(now: Date) async throws -> [AccountStatusCount] {
        state.withLock { AccountStatusCount.counting($0.accounts.values, now: now) }
    }

    public func insert(_ row: AccountRow) async throws {
        try transaction { state in
            try Self.requireCurrentKey(row[.keyID], state)
            let name = Self.name(of: row)
            guard state.accounts[name] == nil else {
                throw VaultError(.alreadyExists, "an account named '\(name.prefix(128))' exists already")
            }
            state.accounts[name] = row
        }
    }

    public func importAccounts(_ rows: [AccountRow], replacing expectedGenerations: [AccountName: Int64]) async throws {
        try transaction { state in
            for row in rows {
                try Self.requireCurrentKey(row[.keyID], state)
                let name = Self.name(of: row)
                if let account = try? AccountName(name), let expected = expectedGenerations[account] {
                    guard state.accounts[name] != nil else {
                        throw VaultError(.conflict, "'\(name)' was removed during the import; run it again")
                    }
                    try Self.compareAndSwap(row, expectedGeneration: expected, &state)
                } else {
                    guard state.accounts[name] == nil else {
                        throw VaultError(.alreadyExists, "an account named '\(name.prefix(128))' exists already")
                    }
                    state.accounts[name] = row
                }
            }
        }
    }

    public func update(_ row: AccountRow, expectedGeneration: Int64) async throws {
        try transaction { state in
            try Self.requireCurrentKey(row[.keyID], state)
            try Self.compareAndSwap(row, expectedGeneration: expectedGeneration, &state)
        }
    }

    public func deleteAccount(named name: AccountName) async throws -> Bool {
        state.withLock { $0.accounts.removeValue(forKey: name.rawValue) != nil }
    }

    public func upgradeFormat(
        rows: [AccountRow],
        expectedGenerations: [AccountName: Int64],
        formatVersion: Int?,
        accountCount: Int
    ) async throws {
        try transaction { state in
            for row in rows {
                try Self.requireCurrentKey(row[.keyID], state)
                try Self.compareAndSwap(
                    row,
                    expectedGeneration: try row.expectedGeneration(in: expectedGenerations),
                    &state
                )
            }
            guard let formatVersion else { return }
            guard state.accounts.count == accountCount else {
                throw VaultError(.conflict, "accounts were added or removed during the format upgrade")
            }
            state.header?[.formatVersion] = .integer(Int64(formatVersion))
        }
    }

    public func rotate(
        expectedKeyID: Int64,
        newKeyID: Int64,
        expectedSlots: [KeySlotRow],
        slots: [KeySlotRow],
        rows: [AccountRow],
        expectedGenerations: [AccountName: Int64]
    ) async throws {
        try transaction { state in
            try Self.requireCurrentKey(.integer(expectedKeyID), state)
            guard state.slots == expectedSlots else {
                throw VaultError(.conflict, "key slots changed during the key rotation; run it again")
            }
            guard state.accounts.count == rows.count else {
                throw VaultError(.conflict, "accounts were added or removed during the key rotation; run it again")
            }
            state.header?[.keyID] = .integer(newKeyID)
            state.slots = slots
            if let highest = slots.compactMap({ $0[.id].integer }).max() {
                state.nextSlotID = max(state.nextSlotID, highest + 1)
            }
            for row in rows {
                try Self.compareAndSwap(
                    row,
                    expectedGeneration: try row.expectedGeneration(in: expectedGenerations),
                    &state
                )
            }
        }
    }

    /// Under the state's lock: expired claims deleted (all of them: memory is small), then the claim stored unless an
    /// unexpired one of `key` is.
    public func claimSingleUse(_ key: [UInt8], expiresAt: Date) async throws -> Bool {
        let expiry = try SingleUseClaims.checked(key, expiresAt: expiresAt)
        let now = Date().timeIntervalSince1970
        return state.withLock { state in
            state.claims = state.claims.filter { $0.value > now }
            guard state.claims[key] == nil else { return false }
            state.claims[key] = expiry
            return true
        }
    }

    /// Nothing to check: memory has no permissions or file identity.
    public func checkStorage() async throws -> [VaultError] { [] }

    public func withAccountLock<T: Sendable>(
        _ name: AccountName,
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        try await locks.acquire(.account(name.rawValue), timeout: timeout)
        defer { locks.release(.account(name.rawValue)) }
        return try await body()
    }

    public func withEveryAccountLock<T: Sendable>(
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        try await locks.acquire(.every, timeout: timeout)
        defer { locks.release(.every) }
        return try await body()
    }
}

extension InMemoryCredentialStore {
    /// Replaces one column of a stored account row, bypassing every check: for tests that play an attacker who
    /// can write the store (the conformance suite's tamper cases).
    package func tamper(account name: AccountName, column: AccountColumn, with value: StoreValue) {
        state.withLock { $0.accounts[name.rawValue]?[column] = value }
    }
}
