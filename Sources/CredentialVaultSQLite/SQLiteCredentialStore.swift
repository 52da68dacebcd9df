public import CredentialVault
public import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The embedded default store: one SQLite file (GRDB, WAL journal, `synchronous=FULL`).
///
/// Every change is one IMMEDIATE transaction, durable on return. Several processes may use one file at once;
/// writers wait up to ``busyTimeout`` for each other. Accounts live in a table keyed by name (a rowid table with
/// the sealed values last, so that an account of about 1.2 KB stays on its b-tree page: schema step
/// `v6-compact-rows`), so reading or writing one account is O(log n) whatever the number of accounts.
///
/// The file is created 0600 (its directory 0700 when this store creates it); an existing file that group or
/// others may read or write is refused with ``VaultError/Code/unsafePermissions``.
public final class SQLiteCredentialStore: CredentialStore {
    /// How long a writer waits for another process's transaction before failing.
    public static let busyTimeout: Double = 30

    /// The page size of a new vault file, in bytes.
    static let pageSize = 8192

    /// The vault file.
    public let path: String
    let queue: DatabaseQueue
    /// Point reads on the calling task when they need not wait (``PointReader``).
    let pointReader: PointReader
    /// The vault's per-account locks, on the file's inode (``VaultLock``).
    let lock: VaultLock

    /// Opens the vault file at `path`.
    ///
    /// - Parameters:
    ///   - path: the SQLite file.
    ///   - create: create the file (0600) and missing directories (0700) if needed, and the schema. Without it, a
    ///     missing file or one without a vault schema throws ``VaultError/Code/noVault``.
    public init(path: String, create: Bool = false) throws {
        self.path = path
        let created = create ? try Self.createFileIfMissing(path) : false
        do { try Self.checkPermissions(path) } catch {
            if created { unlink(path) }  // refused: leave nothing behind
            throw error
        }
        var config = Configuration()
        config.busyMode = .timeout(Self.busyTimeout)
        config.prepareDatabase { db in
            // A committed rotated refresh token must survive power loss: fsync the WAL at every commit.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // Deleted slots and overwritten sealed values are zeroed, not left in free pages, whatever the
            // SQLite build's default.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        do {
            // One connection (DatabaseQueue), not a DatabasePool: a pool writes a dummy transaction whenever it
            // finds no WAL file, so even a failed unlock would change the vault file's bytes. The WAL journal
            // mode is persistent in the file; it is set once, at creation. Several processes still share the
            // file safely through SQLite's locks.
            queue = try DatabaseQueue(path: path, configuration: config)
            // A connection of its own; it sees the schema that the steps below may still add.
            pointReader = try PointReader(path: path)
            // Registered last, so that every store that registered also runs `deinit` (which unregisters it).
            lock = try VaultLock(vaultPath: path)
            let migrator = Self.migrator
            let (applied, complete) = try queue.read { db in
                (try migrator.appliedIdentifiers(db), try migrator.hasCompletedMigrations(db))
            }
            if applied.isEmpty {
                guard create else {
                    throw VaultError(.noVault, "\(path) holds no vault")
                }
                try queue.writeWithoutTransaction { db in
                    // Before the first page is written, which WAL mode would then fix for good: 8 KiB pages hold
                    // five accounts of about 1.4 KB where 4 KiB pages hold two (RowLayoutTests).
                    try db.execute(sql: "PRAGMA page_size = \(Self.pageSize)")
                    guard try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") == "wal" else {
                        throw VaultError(.storage, "cannot put \(path) in WAL mode")
                    }
                }
            }
            // A vault made by an earlier version gains the later schema steps (additive) when first opened.
            if !complete { try migrator.migrate(queue) }
        } catch let error as DatabaseError {
            throw Self.mapped(error)
        }
    }

    /// Closes the connection (SQLite checkpoints the WAL when the last connection to the file closes).
    /// Further use throws. Releasing the store does the same.
    public func close() throws {
        do {
            try pointReader.close()
            try queue.close()
        } catch let error as DatabaseError { throw Self.mapped(error) }
    }

    deinit {
        // The lock's descriptor may be closed only after this store's SQLite connection (see ``VaultLock``); if the
        // connection cannot be closed now, the descriptor stays open for the life of the process.
        if (try? pointReader.close()) != nil, (try? queue.close()) != nil { lock.storeClosed() }
    }

    // MARK: - CredentialStore

    /// The vault file's real path (symbolic links resolved), or ``path`` made absolute if it cannot be resolved.
    public var storageLocation: String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        return path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    public func recordLocation(_ location: String) async throws {
        try await run(queue.write) { db in
            try db.execute(sql: "UPDATE vault_header SET location = ? WHERE id = 1", arguments: [location])
            guard db.changesCount > 0 else { throw VaultError(.noVault, "no vault has been created here") }
        }
    }

    public func headerRow() async throws -> VaultHeaderRow? {
        try await pointRead { db in try Self.headerRow(db) }
    }

    public func createVault(header: VaultHeaderRow, slots: [KeySlotRow]) async throws {
        try await run(queue.write) { db in
            if try Self.headerRow(db) != nil { throw VaultError(.vaultExists, "a vault exists already here") }
            let columns = VaultHeaderColumn.allCases
            try db.execute(
                sql: "INSERT INTO vault_header (id, \(columns.map(\.rawValue).joined(separator: ", "))) VALUES (1, "
                    + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")",
                arguments: Self.arguments(header.orderedValues)
            )
            for slot in slots { _ = try Self.insertSlot(slot, db, keepingID: false) }
        }
    }

    public func slotRows() async throws -> [KeySlotRow] {
        try await pointRead { db in try Self.fetchRows(db, "key_slot", orderBy: "id") }
    }

    public func addSlot(_ slot: KeySlotRow) async throws -> Int64 {
        try await run(queue.write) { db in
            try Self.requireCurrentKey(slot[.keyID], db)
            return try Self.insertSlot(slot, db, keepingID: false)
        }
    }

    public func replaceSlot(id: Int64, with slot: KeySlotRow, expectedWrappedKey: StoreValue) async throws {
        try await run(queue.write) { db in
            try Self.requireCurrentKey(slot[.keyID], db)
            let stored: [KeySlotRow] = try Self.fetchRows(
                db,
                "key_slot",
                where: "WHERE id = ?",
                orderBy: "id",
                arguments: [id]
            )
            guard let previous = stored.first else { throw VaultError(.notFound, "no key slot \(id)") }
            guard previous[.wrappedKey] == expectedWrappedKey else {
                throw VaultError(.conflict, "key slot \(id) changed meanwhile; run the command again")
            }
            let columns = KeySlotColumn.allCases.filter { $0 != .id }
            try db.execute(
                sql: "UPDATE key_slot SET " + columns.map { "\($0.rawValue) = ?" }.joined(separator: ", ")
                    + " WHERE id = ?",
                arguments: Self.arguments(columns.map { slot[$0] } + [.integer(id)])
            )
        }
    }

    public func removeSlot(id: Int64, expectedSlots: [KeySlotRow]) async throws {
        try await run(queue.write) { db in
            let current: [KeySlotRow] = try Self.fetchRows(db, "key_slot", orderBy: "id")
            guard current.contains(where: { $0[.id] == .integer(id) }) else {
                throw VaultError(.notFound, "no key slot \(id)")
            }
            guard current == expectedSlots else {
                throw VaultError(.conflict, "key slots changed meanwhile; run the command again")
            }
            try db.execute(sql: "DELETE FROM key_slot WHERE id = ?", arguments: [id])
        }
    }

    public func accountRow(named name: AccountName) async throws -> AccountRow? {
        try await pointRead { db in try Self.accountRow(named: name.rawValue, db) }
    }

    /// Only rows that are accounts (``AccountSQL/isAccount``).
    public func accountRows() async throws -> [AccountRow] {
        try await run(queue.read) { db in
            try Self.fetchRows(db, "account", where: "WHERE \(AccountSQL.isAccount)", orderBy: "name")
        }
    }

    /// Only rows that are accounts (``AccountSQL/isAccount``).
    public func accountRows(after: String?, limit: Int) async throws -> [AccountRow] {
        let columns = AccountSQL.columns.map(\.rawValue).joined(separator: ", ")
        let sql =
            "SELECT \(columns) FROM account WHERE \(AccountSQL.isAccount)" + (after == nil ? "" : " AND name > ?")
            + " ORDER BY name LIMIT ?"
        let arguments: StatementArguments = after.map { [$0, max(0, limit)] } ?? [max(0, limit)]
        return try await run(queue.read) { db in
            try Self.storeRows(db, sql: sql, AccountSQL.columns, arguments: arguments)
        }
    }

    public func dueAccountRows(_ query: DueAccountQuery) async throws -> [AccountRow] {
        try await run(queue.read) { db in
            let (sql, arguments) = Self.dueAccountsSQL(query)
            return try Self.storeRows(db, sql: sql, AccountColumn.metadata, arguments: arguments)
        }
    }

    /// The columns of ``accountStatusCountsSQL``.
    private enum StatusCountColumn: String, StoreColumn {
        case status, backingOff, count

        var position: Int {
            switch self {
            case .status: 0
            case .backingOff: 1
            case .count: 2
            }
        }
    }

    public func accountStatusCounts(now: Date) async throws -> [AccountStatusCount] {
        let arguments = Self.arguments([.real(now.timeIntervalSince1970), .real(DueAccountQuery.latestValidDate)])
        return try await run(queue.read) { db in
            try Self.storeRows(db, sql: Self.accountStatusCountsSQL, StatusCountColumn.allCases, arguments: arguments)
                .map { row in
                    AccountStatusCount(
                        status: row[.status],
                        backingOff: row[.backingOff] != .integer(0),
                        count: Int(row[.count].integer ?? 0)
                    )
                }
        }
    }

    public func insert(_ row: AccountRow) async throws {
        try await run(queue.write) { db in
            try Self.requireCurrentKey(row[.keyID], db)
            try Self.insertNew(row, db)
        }
    }

    /// Inserts `row`, refusing (``VaultError/Code/alreadyExists``) a name that is taken.
    private static func insertNew(_ row: AccountRow, _ db: Database) throws {
        let exists =
            try Bool.fetchOne(db, sql: "SELECT 1 FROM account WHERE name = ?", arguments: arguments([row[.name]]))
            != nil
        if exists {
            throw VaultError(.alreadyExists, "an account named '\((row[.name].text ?? "").prefix(128))' exists already")
        }
        try insertAccount(row, db)
    }

    public func update(_ row: AccountRow, expectedGeneration: Int64) async throws {
        try await run(queue.write) { db in
            try Self.requireCurrentKey(row[.keyID], db)
            try Self.compareAndSwap(row, expectedGeneration: expectedGeneration, db)
        }
    }

    public func importAccounts(_ rows: [AccountRow], replacing expectedGenerations: [AccountName: Int64]) async throws {
        try await run(queue.write) { db in
            for row in rows {
                try Self.requireCurrentKey(row[.keyID], db)
                if let name = row[.name].text.flatMap({ try? AccountName($0) }),
                    let expected = expectedGenerations[name]
                {
                    do { try Self.compareAndSwap(row, expectedGeneration: expected, db) } catch let error as VaultError
                        where error.code == .notFound
                    {
                        throw VaultError(.conflict, "'\(name)' was removed during the import; run it again")
                    }
                } else {
                    try Self.insertNew(row, db)
                }
            }
        }
    }

    public func deleteAccount(named name: AccountName) async throws -> Bool {
        try await run(queue.write) { db in
            try db.execute(sql: "DELETE FROM account WHERE name = ?", arguments: [name.rawValue])
            return db.changesCount > 0
        }
    }

    /// One IMMEDIATE transaction: a bounded batch of expired claims deleted, then the claim inserted, or written over
    /// its key's expired one (an upsert whose update applies only to an expired claim).
    public func claimSingleUse(_ key: [UInt8], expiresAt: Date) async throws -> Bool {
        let expiry = try SingleUseClaims.checked(key, expiresAt: expiresAt)
        let now = Date().timeIntervalSince1970
        return try await run(queue.write) { db in
            try db.execute(
                sql: """
                    DELETE FROM single_use WHERE key IN (
                        SELECT key FROM single_use WHERE expires_at <= ? AND key <> ? ORDER BY expires_at LIMIT ?
                    )
                    """,
                arguments: [now, Data(key), SingleUseClaims.pruneBatch]
            )
            try db.execute(
                sql: """
                    INSERT INTO single_use (key, expires_at) VALUES (?, ?)
                    ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE single_use.expires_at <= ?
                    """,
                arguments: [Data(key), expiry, now]
            )
            return db.changesCount > 0
        }
    }

    /// `PRAGMA quick_check`, account rows whose name is not text, the permissions of the file, its `-wal`/`-shm` and
    /// its folder, and whether the file at ``path`` is still the one this store opened (its locks are on that file).
    public func checkStorage() async throws -> [VaultError] {
        let (quickCheck, notText) = try await run(queue.read) { db in
            (
                try String.fetchAll(db, sql: "PRAGMA quick_check").filter { $0 != "ok" },
                try Int.fetchOne(db, sql: "SELECT count(*) FROM account WHERE NOT (\(AccountSQL.isAccount))") ?? 0
            )
        }
        var problems = quickCheck.map { VaultError(.integrityFailure, "SQLite quick_check: \($0)") }
        if notText > 0 {
            // Not accounts (``AccountSQL/isAccount``), so in no list: reported here.
            problems.append(
                VaultError(
                    .integrityFailure,
                    "\(notText) account row(s) have a name that is not text (the file was altered outside "
                        + "sendcloud-vault); they are not accounts and are not listed"
                )
            )
        }
        func check(_ body: () throws -> Void) {
            do { try body() } catch let error as VaultError { problems.append(error) } catch {
                problems.append(VaultError(.storage, "\(error)"))
            }
        }
        check { try Self.checkPermissions(path) }
        check {
            guard lock.isStillAtPath() else {
                throw VaultError(
                    .storage,
                    "\(path) is no longer the file this process opened (replaced meanwhile); its locks would differ"
                )
            }
        }
        return problems
    }

    public func rotate(
        expectedKeyID: Int64,
        newKeyID: Int64,
        expectedSlots: [KeySlotRow],
        slots: [KeySlotRow],
        rows: [AccountRow],
        expectedGenerations: [AccountName: Int64]
    ) async throws {
        try await run(queue.write) { db in
            try Self.requireCurrentKey(.integer(expectedKeyID), db)
            let current: [KeySlotRow] = try Self.fetchRows(db, "key_slot", orderBy: "id")
            guard current == expectedSlots else {
                throw VaultError(.conflict, "key slots changed during the key rotation; run it again")
            }
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM account WHERE \(AccountSQL.isAccount)") ?? 0
            guard count == rows.count else {
                throw VaultError(.conflict, "accounts were added or removed during the key rotation; run it again")
            }
            try db.execute(sql: "UPDATE vault_header SET key_id = ? WHERE id = 1", arguments: [newKeyID])
            try db.execute(sql: "DELETE FROM key_slot")
            for slot in slots { _ = try Self.insertSlot(slot, db, keepingID: true) }
            for row in rows {
                try Self.compareAndSwap(
                    row,
                    expectedGeneration: try row.expectedGeneration(in: expectedGenerations),
                    db
                )
            }
        }
    }

    public func upgradeFormat(
        rows: [AccountRow],
        expectedGenerations: [AccountName: Int64],
        formatVersion: Int?,
        accountCount: Int
    ) async throws {
        try await run(queue.write) { db in
            for row in rows {
                try Self.requireCurrentKey(row[.keyID], db)
                try Self.compareAndSwap(
                    row,
                    expectedGeneration: try row.expectedGeneration(in: expectedGenerations),
                    db
                )
            }
            guard let formatVersion else { return }
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM account WHERE \(AccountSQL.isAccount)") ?? 0
            guard count == accountCount else {
                throw VaultError(.conflict, "accounts were added or removed during the format upgrade")
            }
            try db.execute(sql: "UPDATE vault_header SET format_version = ? WHERE id = 1", arguments: [formatVersion])
        }
    }
}
