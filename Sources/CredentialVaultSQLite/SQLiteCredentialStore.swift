public import CredentialVault
import Foundation
package import GRDB

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
/// writers wait up to ``busyTimeout`` for each other. Accounts live in a `WITHOUT ROWID` table keyed by name,
/// so reading or writing one account is O(log n) whatever the number of accounts.
///
/// The file is created 0600 (its directory 0700 when this store creates it); an existing file that group or
/// others may read or write is refused with ``VaultError/Code/unsafePermissions``.
public final class SQLiteCredentialStore: CredentialStore {
    /// How long a writer waits for another process's transaction before failing.
    public static let busyTimeout: Double = 30

    /// The vault file.
    public let path: String
    private let queue: DatabaseQueue
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
            // Registered last, so that every store that registered also runs `deinit` (which unregisters it).
            lock = try VaultLock(vaultPath: path)
            let migrator = Self.migrator
            let complete = try queue.read { try migrator.hasCompletedMigrations($0) }
            if !complete {
                guard create else {
                    throw VaultError(.noVault, "\(path) holds no vault")
                }
                try queue.writeWithoutTransaction { db in
                    guard try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") == "wal" else {
                        throw VaultError(.storage, "cannot put \(path) in WAL mode")
                    }
                }
                try migrator.migrate(queue)
            }
        } catch let error as DatabaseError {
            throw Self.mapped(error)
        }
    }

    /// Closes the connection (SQLite checkpoints the WAL when the last connection to the file closes).
    /// Further use throws. Releasing the store does the same.
    public func close() throws {
        do { try queue.close() } catch let error as DatabaseError { throw Self.mapped(error) }
    }

    deinit {
        // The lock's descriptor may be closed only after this store's SQLite connection (see ``VaultLock``); if the
        // connection cannot be closed now, the descriptor stays open for the life of the process.
        if (try? queue.close()) != nil { lock.storeClosed() }
    }

    // MARK: - Files

    /// Returns whether it created the file.
    private static func createFileIfMissing(_ path: String) throws -> Bool {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try createDirectories(directory)
        }
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if fd >= 0 {
            closeDescriptor(fd)
            return true
        } else if errno != EEXIST {
            throw VaultError(.storage, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        return false
    }

    /// Creates each missing directory of `directory` with mode 0700; existing ones are left as they are.
    private static func createDirectories(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw VaultError(.storage, "\(directory) is not a directory") }
            return
        }
        let parent = (directory as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != directory { try createDirectories(parent) }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw VaultError(.storage, "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// Refuses (``VaultError/Code/unsafePermissions``, or ``VaultError/Code/noVault`` when missing) a vault
    /// file that is not a regular file of this user with no group/other permission bit and exactly one hard link
    /// (SQLite's WAL goes by name); the same for its `-wal` and
    /// `-shm` files when they exist (SQLite reads a WAL file as part of the vault: a writable one is a writable
    /// vault); and a vault folder that is not this user's (or root's) or that group or others may write (they could
    /// replace the file or plant a `-wal` before SQLite creates one). A readable folder is fine.
    static func checkPermissions(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { throw VaultError(.noVault, "no vault at \(path)") }
            throw VaultError(.storage, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        try checkPrivateFile(path, st, what: "a vault")
        // SQLite keeps a WAL file per *name*: through two hard links two processes would each read their own WAL
        // and miss the other's commits (an already spent refresh token, say), whatever lock they share.
        guard st.st_nlink == 1 else {
            throw VaultError(
                .unsafePermissions,
                "\(path) has \(st.st_nlink) hard links; a vault must have exactly one name (use a symlink instead)"
            )
        }
        let real = realPath(path)
        for suffix in ["-wal", "-shm"] {
            let companion = real + suffix
            var cst = stat()
            guard lstat(companion, &cst) == 0 else { continue }
            try checkPrivateFile(companion, cst, what: "the vault's \(suffix) file")
        }
        let folder = (real as NSString).deletingLastPathComponent
        var dst = stat()
        guard stat(folder.isEmpty ? "." : folder, &dst) == 0 else {
            throw VaultError(.storage, "cannot read \(folder): \(String(cString: strerror(errno)))")
        }
        guard dst.st_uid == geteuid() || dst.st_uid == 0, dst.st_mode & 0o022 == 0 else {
            throw VaultError(
                .unsafePermissions,
                "the vault's folder \(folder) must belong to this user (or root) and must not be writable by group "
                    + "or others (chmod go-w \(folder))"
            )
        }
        guard access(folder.isEmpty ? "." : folder, W_OK | X_OK) == 0 else {
            throw VaultError(
                .unsafePermissions,
                "the vault's folder \(folder) is not writable by this user: SQLite keeps the vault's -wal and -shm "
                    + "files beside the vault"
            )
        }
    }

    private static func checkPrivateFile(_ path: String, _ st: stat, what: String) throws {
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw VaultError(.unsafePermissions, "\(path) is not a regular file")
        }
        guard st.st_uid == geteuid() else {
            throw VaultError(
                .unsafePermissions,
                "\(path) belongs to uid \(st.st_uid), not to this user (uid \(geteuid())); \(what) file must be "
                    + "this user's"
            )
        }
        let mode = st.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw VaultError(
                .unsafePermissions,
                "\(path) has mode \(String(mode, radix: 8)); \(what) file must not be readable or writable by group "
                    + "or others (chmod 600 \(path))"
            )
        }
    }

    /// `path` through any symlinks (SQLite puts `-wal`/`-shm` beside the real file), or `path` itself.
    private static func realPath(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }

    // MARK: - Schema

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE vault_header (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        vault_id BLOB NOT NULL,
                        format_version INTEGER NOT NULL,
                        key_id INTEGER NOT NULL,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE key_slot (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL,
                        salt BLOB,
                        ops_limit INTEGER,
                        mem_limit INTEGER,
                        key_id INTEGER NOT NULL,
                        wrapped_key BLOB NOT NULL,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE account (
                        name TEXT NOT NULL PRIMARY KEY,
                        mode TEXT NOT NULL,
                        client_id TEXT NOT NULL,
                        scopes TEXT,
                        token_url TEXT NOT NULL,
                        key_id INTEGER NOT NULL,
                        client_secret BLOB,
                        refresh_token BLOB,
                        access_token BLOB,
                        access_token_expires_at REAL,
                        status TEXT NOT NULL,
                        last_error TEXT,
                        generation INTEGER NOT NULL,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL,
                        refreshed_at REAL
                    ) WITHOUT ROWID;
                    """
            )
        }
        return migrator
    }

    /// The connection's `PRAGMA synchronous` (2 = FULL), for tests.
    func synchronousSetting() throws -> Int {
        try queue.read { try Int.fetchOne($0, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// The connection's `PRAGMA secure_delete` (1 = ON), for tests.
    func secureDeleteSetting() throws -> Int {
        try queue.read { try Int.fetchOne($0, sql: "PRAGMA secure_delete") ?? -1 }
    }

    /// The file's journal mode (`wal`), for tests.
    func journalMode() throws -> String {
        try queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") ?? "" }
    }

    // MARK: - CredentialStore

    public func header() async throws -> VaultHeader? {
        try await run(queue.read) { db in try Self.readHeader(db) }
    }

    public func createVault(header: VaultHeader, slots: [KeySlot]) async throws {
        try await run(queue.write) { db in
            if try Self.readHeader(db) != nil { throw VaultError(.vaultExists, "a vault exists already here") }
            try db.execute(
                sql:
                    "INSERT INTO vault_header (id, vault_id, format_version, key_id, created_at) VALUES (1, ?, ?, ?, ?)",
                arguments: [
                    Data(header.vaultID), header.formatVersion, Int64(header.keyID),
                    header.createdAt.timeIntervalSince1970,
                ]
            )
            for slot in slots { _ = try Self.insertSlot(slot, db) }
        }
    }

    public func slots() async throws -> [KeySlot] {
        try await slotRecords().compactMap { try? $0.get() }
    }

    public func slotRecords() async throws -> [Result<KeySlot, VaultError>] {
        try await run(queue.read) { db in try Self.readSlots(db) }
    }

    /// Every slot row, each decoded on its own: a damaged row is reported, not a reason to lose the others.
    private static func readSlots(_ db: Database) throws -> [Result<KeySlot, VaultError>] {
        try Row.fetchAll(db, sql: "SELECT * FROM key_slot ORDER BY id").map { row in
            do { return .success(try slot(from: row)) } catch let error as VaultError {
                return .failure(error)
            } catch {
                return .failure(VaultError(.integrityFailure, "a key slot is malformed"))
            }
        }
    }

    public func addSlot(_ slot: KeySlot) async throws -> KeySlot {
        try await run(queue.write) { db in
            try Self.requireCurrentKey(slot.keyID, db)
            return try Self.insertSlot(slot, db)
        }
    }

    public func replaceSlot(_ slot: KeySlot, expecting previous: KeySlot) async throws {
        try await run(queue.write) { db in
            try Self.requireCurrentKey(slot.keyID, db)
            guard
                let stored = try Row.fetchOne(db, sql: "SELECT * FROM key_slot WHERE id = ?", arguments: [previous.id])
            else { throw VaultError(.notFound, "no key slot \(previous.id)") }
            guard try Self.slot(from: stored).wrappedKey == previous.wrappedKey else {
                throw VaultError(.conflict, "key slot \(previous.id) changed meanwhile; run the command again")
            }
            let columns = Self.slotColumns(slot)
            try db.execute(
                sql: """
                    UPDATE key_slot SET kind = ?, salt = ?, ops_limit = ?, mem_limit = ?, key_id = ?, wrapped_key = ?,
                    created_at = ? WHERE id = ?
                    """,
                arguments: columns + [previous.id]
            )
            if db.changesCount == 0 { throw VaultError(.notFound, "no key slot \(slot.id)") }
        }
    }

    public func removeSlot(id: Int64) async throws {
        try await run(queue.write) { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM key_slot WHERE id = ?", arguments: [id]) != nil else {
                throw VaultError(.notFound, "no key slot \(id)")
            }
            // Only slots that decode count: a damaged row cannot open the vault.
            let keyID = try Self.readHeader(db)?.keyID
            let working = try Self.readSlots(db).filter { result in
                guard case .success(let slot) = result else { return false }
                return slot.id != id && slot.keyID == keyID
            }
            guard !working.isEmpty else {
                throw VaultError(
                    .invalidInput,
                    "key slot \(id) is the last one that opens the vault; add another before removing it"
                )
            }
            try db.execute(sql: "DELETE FROM key_slot WHERE id = ?", arguments: [id])
        }
    }

    public func account(named name: AccountName) async throws -> StoredAccount? {
        try await run(queue.read) { db in
            try Row.fetchOne(db, sql: "SELECT * FROM account WHERE name = ?", arguments: [name.rawValue])
                .map(Self.account(from:))
        }
    }

    public func accounts() async throws -> [StoredAccount] {
        try await accountRecords().map { try $0.get() }
    }

    public func accountRecords() async throws -> [Result<StoredAccount, VaultError>] {
        try await run(queue.read) { db in
            try Row.fetchAll(db, sql: "SELECT * FROM account ORDER BY name").map { row in
                do { return .success(try Self.account(from: row)) } catch let error as VaultError {
                    return .failure(error)
                } catch {
                    return .failure(VaultError(.integrityFailure, "an account record is malformed"))
                }
            }
        }
    }

    public func insert(_ record: StoredAccount) async throws {
        try await run(queue.write) { db in
            try Self.requireCurrentKey(record.keyID, db)
            if try Bool.fetchOne(
                db,
                sql: "SELECT 1 FROM account WHERE name = ?",
                arguments: [record.account.name.rawValue]
            )
                != nil
            {
                throw VaultError(.alreadyExists, "an account named '\(record.account.name)' exists already")
            }
            try db.execute(
                sql: "INSERT INTO account (\(Self.accountColumnNames.joined(separator: ", "))) VALUES ("
                    + Array(repeating: "?", count: Self.accountColumnNames.count).joined(separator: ", ") + ")",
                arguments: StatementArguments(Self.accountColumns(record))
            )
        }
    }

    public func update(_ record: StoredAccount, expectedGeneration: Int64) async throws {
        try await run(queue.write) { db in
            try Self.requireCurrentKey(record.keyID, db)
            try Self.compareAndSwap(record, expectedGeneration: expectedGeneration, db)
        }
    }

    public func deleteAccount(named name: AccountName) async throws -> Bool {
        try await run(queue.write) { db in
            try db.execute(sql: "DELETE FROM account WHERE name = ?", arguments: [name.rawValue])
            return db.changesCount > 0
        }
    }

    /// `PRAGMA quick_check`, the permissions of the file, its `-wal`/`-shm` and its folder, and whether the file at
    /// ``path`` is still the one this store opened (its locks are on that file).
    public func checkStorage() async throws -> [VaultError] {
        var problems = try await run(queue.read) { db in
            try String.fetchAll(db, sql: "PRAGMA quick_check").filter { $0 != "ok" }
        }.map { VaultError(.integrityFailure, "SQLite quick_check: \($0)") }
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
        expectedKeyID: UInt32,
        newKeyID: UInt32,
        expectedSlots: [KeySlot],
        slots: [KeySlot],
        records: [StoredAccount],
        expectedGenerations: [AccountName: Int64]
    ) async throws {
        try await run(queue.write) { db in
            try Self.requireCurrentKey(expectedKeyID, db)
            // Damaged slot rows are dropped with the others; the decodable ones must be as the caller read them.
            let current = try Self.readSlots(db).compactMap { try? $0.get() }
            guard current.map(\.id) == expectedSlots.map(\.id),
                current.map(\.wrappedKey) == expectedSlots.map(\.wrappedKey)
            else {
                throw VaultError(.conflict, "key slots changed during the key rotation; run it again")
            }
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM account") ?? 0
            guard count == records.count else {
                throw VaultError(.conflict, "accounts were added or removed during the key rotation; run it again")
            }
            try db.execute(sql: "UPDATE vault_header SET key_id = ? WHERE id = 1", arguments: [Int64(newKeyID)])
            try db.execute(sql: "DELETE FROM key_slot")
            for slot in slots { _ = try Self.insertSlot(slot, db, keepingID: true) }
            for record in records {
                guard let expected = expectedGenerations[record.account.name] else {
                    throw VaultError(.conflict, "no expected generation for '\(record.account.name)'")
                }
                try Self.compareAndSwap(record, expectedGeneration: expected, db)
            }
        }
    }

    public func upgradeFormat(
        records: [StoredAccount],
        expectedGenerations: [AccountName: Int64],
        formatVersion: Int?,
        accountCount: Int
    ) async throws {
        try await run(queue.write) { db in
            for record in records {
                try Self.requireCurrentKey(record.keyID, db)
                guard let expected = expectedGenerations[record.account.name] else {
                    throw VaultError(.conflict, "no expected generation for '\(record.account.name)'")
                }
                try Self.compareAndSwap(record, expectedGeneration: expected, db)
            }
            guard let formatVersion else { return }
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM account") ?? 0
            guard count == accountCount else {
                throw VaultError(.conflict, "accounts were added or removed during the format upgrade")
            }
            try db.execute(sql: "UPDATE vault_header SET format_version = ? WHERE id = 1", arguments: [formatVersion])
        }
    }

    // MARK: - Rows

    private static func readHeader(_ db: Database) throws -> VaultHeader? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM vault_header WHERE id = 1") else { return nil }
        guard let vaultID = row.value("vault_id", as: Data.self),
            let keyID = UInt32(exactly: row.value("key_id", as: Int64.self) ?? -1)
        else {
            throw VaultError(.integrityFailure, "the vault header is malformed")
        }
        return VaultHeader(
            vaultID: [UInt8](vaultID),
            formatVersion: row.value("format_version", as: Int.self) ?? -1,
            keyID: keyID,
            createdAt: Date(timeIntervalSince1970: row.value("created_at", as: Double.self) ?? 0)
        )
    }

    private static func requireCurrentKey(_ keyID: UInt32, _ db: Database) throws {
        guard let header = try readHeader(db) else { throw VaultError(.noVault, "no vault has been created here") }
        guard header.keyID == keyID else {
            throw VaultError(.conflict, "the data key was rotated meanwhile; open the vault again")
        }
    }

    private static func compareAndSwap(_ record: StoredAccount, expectedGeneration: Int64, _ db: Database) throws {
        let names = accountColumnNames.dropFirst()
        try db.execute(
            sql: "UPDATE account SET " + names.map { "\($0) = ?" }.joined(separator: ", ")
                + " WHERE name = ? AND generation = ?",
            arguments: StatementArguments(
                Array(accountColumns(record).dropFirst()) + [record.account.name.rawValue, expectedGeneration]
            )
        )
        if db.changesCount == 0 {
            let exists =
                try Bool.fetchOne(
                    db,
                    sql: "SELECT 1 FROM account WHERE name = ?",
                    arguments: [record.account.name.rawValue]
                ) != nil
            if exists {
                throw VaultError(.conflict, "'\(record.account.name)' changed since it was read (generation)")
            }
            throw VaultError(.notFound, "no account named '\(record.account.name)'")
        }
    }

    private static func slotColumns(_ slot: KeySlot) -> StatementArguments {
        switch slot.kind {
        case .passphrase(let salt, let ops, let mem):
            return [
                "passphrase", Data(salt), Int64(clamping: ops), Int64(clamping: mem), Int64(slot.keyID),
                Data(slot.wrappedKey), slot.createdAt.timeIntervalSince1970,
            ]
        case .keyFile:
            return [
                "key-file", nil, nil, nil, Int64(slot.keyID), Data(slot.wrappedKey),
                slot.createdAt.timeIntervalSince1970,
            ]
        }
    }

    private static func insertSlot(_ slot: KeySlot, _ db: Database, keepingID: Bool = false) throws -> KeySlot {
        if keepingID {
            try db.execute(
                sql: """
                    INSERT INTO key_slot (kind, salt, ops_limit, mem_limit, key_id, wrapped_key, created_at, id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: slotColumns(slot) + [slot.id]
            )
        } else {
            try db.execute(
                sql: """
                    INSERT INTO key_slot (kind, salt, ops_limit, mem_limit, key_id, wrapped_key, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: slotColumns(slot)
            )
        }
        var stored = slot
        stored.id = db.lastInsertedRowID
        return stored
    }

    /// Decodes one `key_slot` row; every column is checked, so a tampered row is an integrity error, never a trap.
    package static func slot(from row: Row) throws -> KeySlot {
        let id = row.value("id", as: Int64.self) ?? 0
        guard let keyID = UInt32(exactly: row.value("key_id", as: Int64.self) ?? -1),
            let wrapped = row.value("wrapped_key", as: Data.self)
        else { throw VaultError(.integrityFailure, "key slot \(id) is malformed") }
        let kind: KeySlot.Kind
        switch row.value("kind", as: String.self) {
        case "passphrase":
            guard let salt = row.value("salt", as: Data.self) else {
                throw VaultError(.integrityFailure, "key slot \(id) has no salt")
            }
            // Negative numbers become UInt64.max, which the KDF bounds check rejects before any hashing.
            let ops = UInt64(exactly: row.value("ops_limit", as: Int64.self) ?? -1) ?? .max
            let mem = UInt64(exactly: row.value("mem_limit", as: Int64.self) ?? -1) ?? .max
            kind = .passphrase(salt: [UInt8](salt), opsLimit: ops, memLimit: mem)
        case "key-file":
            kind = .keyFile
        default:
            throw VaultError(.integrityFailure, "key slot \(id) has an unknown kind")
        }
        return KeySlot(
            id: id,
            kind: kind,
            keyID: keyID,
            wrappedKey: [UInt8](wrapped),
            createdAt: Date(timeIntervalSince1970: row.value("created_at", as: Double.self) ?? 0)
        )
    }

    private static let accountColumnNames = [
        "name", "mode", "client_id", "scopes", "token_url", "key_id", "client_secret", "refresh_token",
        "access_token", "access_token_expires_at", "status", "last_error", "generation", "created_at", "updated_at",
        "refreshed_at",
    ]

    private static func accountColumns(_ record: StoredAccount) -> [(any DatabaseValueConvertible)?] {
        let a = record.account
        func sealed(_ field: SecretField) -> Data? { record.sealed[field].map { Data($0.bytes) } }
        return [
            a.name.rawValue, a.mode.rawValue, a.clientID, a.scopes, a.tokenURL, Int64(record.keyID),
            sealed(.clientSecret), sealed(.refreshToken), sealed(.accessToken),
            a.accessTokenExpiresAt?.timeIntervalSince1970, a.status.rawValue, a.lastError, a.generation,
            a.createdAt.timeIntervalSince1970, a.updatedAt.timeIntervalSince1970, a.refreshedAt?.timeIntervalSince1970,
        ]
    }

    /// Decodes one `account` row; every column is checked, so a tampered row is an integrity error, never a trap.
    package static func account(from row: Row) throws -> StoredAccount {
        let rawName = row.value("name", as: String.self) ?? ""
        guard let name = try? AccountName(rawName),
            let mode = AccountMode(rawValue: row.value("mode", as: String.self) ?? ""),
            let status = AccountStatus(rawValue: row.value("status", as: String.self) ?? ""),
            let keyID = UInt32(exactly: row.value("key_id", as: Int64.self) ?? -1),
            let clientID = row.value("client_id", as: String.self),
            let tokenURL = row.value("token_url", as: String.self),
            let generation = row.value("generation", as: Int64.self),
            (1..<StoredAccount.maximumGeneration).contains(generation)
        else {
            throw VaultError(.integrityFailure, "the record of account '\(rawName.prefix(128))' is malformed")
        }
        func date(_ column: String) throws -> Date? {
            guard let value = row.value(column, as: DatabaseValue.self), !value.isNull else { return nil }
            // Finite and between 1970 and 9999: anything else is a tampered or corrupt row.
            guard let seconds = Double.fromDatabaseValue(value), seconds.isFinite,
                (0...253_402_300_799).contains(seconds)
            else {
                throw VaultError(.integrityFailure, "the record of account '\(name)' has a malformed \(column)")
            }
            return Date(timeIntervalSince1970: seconds)
        }
        var sealed: [SecretField: SealedValue] = [:]
        for field in SecretField.allCases {
            if let data = row.value(field.description, as: Data.self) {
                sealed[field] = SealedValue(bytes: [UInt8](data))
            }
        }
        let account = Account(
            name: name,
            mode: mode,
            clientID: clientID,
            scopes: row.value("scopes", as: String.self),
            tokenURL: tokenURL,
            accessTokenExpiresAt: try date("access_token_expires_at"),
            status: status,
            lastError: row.value("last_error", as: String.self),
            generation: generation,
            createdAt: try date("created_at") ?? Date(timeIntervalSince1970: 0),
            updatedAt: try date("updated_at") ?? Date(timeIntervalSince1970: 0),
            refreshedAt: try date("refreshed_at")
        )
        return StoredAccount(account: account, keyID: keyID, sealed: sealed)
    }

    // MARK: - Errors

    /// Runs a GRDB access, turning `DatabaseError` into ``VaultError`` without echoing SQL arguments.
    private func run<T: Sendable>(
        _ access: (@Sendable (Database) throws -> T) async throws -> T,
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        do {
            return try await access(body)
        } catch let error as DatabaseError {
            throw Self.mapped(error)
        }
    }

    private static func mapped(_ error: DatabaseError) -> VaultError {
        let detail = "SQLite error \(error.resultCode.rawValue): \(error.message ?? "unknown")"
        switch error.resultCode {
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            return VaultError(.integrityFailure, "the vault file is corrupt or not a vault (\(detail))")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return VaultError(.lockTimeout, "the vault file stayed locked by another process (\(detail))")
        default:
            return VaultError(.storage, detail)
        }
    }
}

extension Row {
    /// The column converted to `T`, or `nil` when it is missing, NULL or of another type. Unlike `row[column] as T?`
    /// (which traps on a type mismatch), a tampered file cannot crash the process through this.
    fileprivate func value<T: DatabaseValueConvertible>(_ column: String, as type: T.Type) -> T? {
        guard let raw: DatabaseValue = self[column] else { return nil }
        return T.fromDatabaseValue(raw)
    }
}

/// `close(2)`, outside the store type so that its `close()` does not shadow it.
func closeDescriptor(_ fd: Int32) { _ = close(fd) }
