public import CredentialVault
import Foundation
public import Logging
import NIOCore
import NIOSSL
import PostgresNIO
public import ServiceLifecycle
import Synchronization

/// The shared store: a vault's tables in one PostgreSQL schema, for several backend instances (containers, hosts)
/// that serve the same tenants and must refresh each one exactly once (DESIGN §4).
///
/// **Same behaviour as the SQLite store**: it passes the same conformance suite. Sealed values are stored as they
/// are (`bytea`); the server and its DBA see account names, client ids, scopes, token URLs, statuses and times, never
/// a secret, and a row they change fails to open (the metadata is authenticated).
///
/// **Connections.** Two `PostgresClient` pools: one for queries (``Configuration/maximumConnections``, default 8)
/// and one for the connections that hold account locks (``Configuration/maximumLockConnections``, default 8), so
/// that lock holders never starve their own bodies of connections. Waiting for a connection is bounded by the
/// location's `connect_timeout` (default 10 s): then ``VaultError/Code/unavailable`` names the host. A statement
/// already sent is never abandoned, so that a committed write is never reported as failed.
///
/// **Lifecycle.** ``connect(to:password:create:configuration:logger:)`` checks that the server answers and accepts
/// the credentials, checks (or, with `create`, applies) the schema, then starts the pools' `run()` in a task the
/// store owns. ``close()`` ends it. The store is also a swift-service-lifecycle `Service`: in a `ServiceGroup`, its
/// ``run()`` returns at graceful shutdown and closes the pools — list it before the services that use it, so that
/// it stops after them.
///
/// **Transactions.** Each method is one statement or one READ COMMITTED transaction that locks the header row first
/// (`FOR SHARE` for an insert, `FOR UPDATE` for slot changes, rotation and upgrades) and then the
/// account rows it writes: so a rotation cannot interleave with a write, and slot checks see no concurrent change.
public final class PostgresCredentialStore: CredentialStore, Service {
    /// Pool sizes and logging.
    public struct Configuration: Sendable {
        /// Connections for queries (default 8).
        public var maximumConnections: Int
        /// Connections holding account locks, one per lock held or being waited for (default 8).
        public var maximumLockConnections: Int
        /// The server-side `statement_timeout` of every connection (default 30 s): a statement that runs longer is
        /// cancelled by the server (``VaultError/Code/unavailable``).
        public var statementTimeout: Duration
        /// How long an account lock's lease outlives its holder's last renewal (default 10 s, at least 3 s): how long
        /// the next caller waits after a holder died mid-refresh, and the longest database outage during which a
        /// holder that lost its session still keeps others out (PostgresCredentialStore+Lock.swift).
        public var lockLease: Duration

        /// The defaults.
        public init(
            maximumConnections: Int = 8,
            maximumLockConnections: Int = 8,
            statementTimeout: Duration = .seconds(30),
            lockLease: Duration = .seconds(10)
        ) {
            self.maximumConnections = max(1, maximumConnections)
            self.maximumLockConnections = max(1, maximumLockConnections)
            self.statementTimeout = statementTimeout
            self.lockLease = max(.seconds(3), lockLease)
        }
    }

    /// Where the vault is.
    public let location: PostgresLocation
    let queries: PostgresClient
    let locks: PostgresClient
    let sql: PostgresStatements
    let logger: Logger
    let configuration: Configuration
    let cachedVaultID = Mutex<[UInt8]?>(nil)
    private let runTask = Mutex<Task<Void, Never>?>(nil)

    private init(
        location: PostgresLocation,
        client: PostgresClient.Configuration,
        configuration: Configuration,
        logger: Logger
    ) {
        self.location = location
        self.logger = logger
        self.configuration = configuration
        sql = PostgresStatements(schema: location.schema)
        var queryOptions = client
        queryOptions.options.maximumConnections = configuration.maximumConnections
        var lockOptions = client
        lockOptions.options.maximumConnections = configuration.maximumLockConnections
        queries = PostgresClient(configuration: queryOptions)
        locks = PostgresClient(configuration: lockOptions)
        let queries = queries
        let locks = locks
        runTask.withLock {
            $0 = Task {
                await withDiscardingTaskGroup { group in
                    group.addTask { await queries.run() }
                    group.addTask { await locks.run() }
                }
            }
        }
    }

    deinit { runTask.withLock { $0?.cancel() } }

    /// Connects to the vault at `location`.
    ///
    /// - Parameters:
    ///   - password: the database password (``PostgresPassword/resolve(for:environment:)`` finds it the libpq way).
    ///   - create: create the schema and tables if missing (`init`); without it, a schema without a vault throws
    ///     ``VaultError/Code/noVault``.
    /// - Throws: ``VaultError``: ``VaultError/Code/unavailable`` (no answer within `connect_timeout`, refused),
    ///   ``VaultError/Code/accessDenied`` (credentials, TLS), ``VaultError/Code/noVault``,
    ///   ``VaultError/Code/storage`` for a schema newer than this code knows.
    public static func connect(
        to location: PostgresLocation,
        password: String?,
        create: Bool = false,
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "sendcloud-vault.postgres") { _ in SwiftLogNoOpLogHandler() }
    ) async throws -> PostgresCredentialStore {
        let client = try clientConfiguration(location, password: password, configuration: configuration)
        // One direct connection first: an unreachable server, a wrong password or a TLS failure is reported at once
        // and plainly (a pool would retry in the background until its circuit breaker trips), and the schema is
        // checked or migrated on it.
        var connection = PostgresConnection.Configuration(
            host: location.host,
            port: location.port,
            username: location.user,
            password: password,
            database: location.database,
            tls: try connectionTLS(location)
        )
        connection.options.connectTimeout = .nanoseconds(
            Int64(location.connectTimeout.components.seconds) * 1_000_000_000
        )
        connection.options.tlsServerName = client.options.tlsServerName
        connection.options.additionalStartupParameters = client.options.additionalStartupParameters
        do {
            let probe = try await PostgresConnection.connect(configuration: connection, id: 0, logger: logger)
            do {
                try await prepareSchema(probe, location: location, create: create, logger: logger)
            } catch {
                try? await probe.close()
                throw error
            }
            try? await probe.close()
        } catch {
            throw mapped(error, location)
        }
        return PostgresCredentialStore(location: location, client: client, configuration: configuration, logger: logger)
    }

    /// Ends the pools (their connections close; the server releases any lock they held). Further use throws.
    public func close() async {
        let task = runTask.withLock { task in
            defer { task = nil }
            return task
        }
        task?.cancel()
        await task?.value
    }

    /// The `Service` entry point: waits for graceful shutdown (or cancellation), then closes the pools.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    static func clientConfiguration(
        _ location: PostgresLocation,
        password: String?,
        configuration: Configuration
    ) throws -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch location.tlsMode {
        case .disable: tls = .disable
        case .require, .verifyFull: tls = .require(try tlsConfiguration(location))
        }
        var client = PostgresClient.Configuration(
            host: location.host,
            port: location.port,
            username: location.user,
            password: password,
            database: location.database,
            tls: tls
        )
        client.options.connectTimeout = location.connectTimeout
        if location.tlsMode == .verifyFull { client.options.tlsServerName = location.host }
        let milliseconds = configuration.statementTimeout.components.seconds * 1000
        client.options.additionalStartupParameters = [
            ("statement_timeout", "\(max(1, milliseconds))"), ("application_name", "sendcloud-vault"),
        ]
        return client
    }

    static func tlsConfiguration(_ location: PostgresLocation) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch location.tlsMode {
        case .disable, .require:
            // libpq's `require`: encrypted, the server not authenticated.
            tls.certificateVerification = .none
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            if let path = location.rootCertificatePath {
                guard FileManager.default.isReadableFile(atPath: path) else {
                    throw VaultError(.accessDenied, "cannot read the sslrootcert file \(path)")
                }
                tls.trustRoots = .file(path)
            }
        }
        return tls
    }

    static func connectionTLS(_ location: PostgresLocation) throws -> PostgresConnection.Configuration.TLS {
        guard location.tlsMode != .disable else { return .disable }
        do {
            return .require(try NIOSSLContext(configuration: tlsConfiguration(location)))
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError(.accessDenied, "cannot set up TLS for \(location.endpoint): \(error)", underlying: error)
        }
    }

    // MARK: - CredentialStore

    /// `postgres://host:port/database?schema=…`: the server, database and schema, not the user (instances may log in
    /// as different roles).
    public var storageLocation: String {
        "postgres://\(location.endpoint)/\(location.database)?schema=\(location.schema)"
    }

    public func recordLocation(_ location: String) async throws {
        var binds = PostgresBindings()
        binds.append(location)
        let updated = try await rows(
            PostgresQuery(
                unsafeSQL: "UPDATE \(sql.header) SET location = $1::text WHERE id = 1 RETURNING 1",
                binds: binds
            )
        )
        guard !updated.isEmpty else { throw VaultError(.noVault, "\(self.location) holds no vault") }
    }

    public func headerRow() async throws -> VaultHeaderRow? {
        try await rows(PostgresQuery(unsafeSQL: sql.selectHeader)).first.map { try Self.storeRow($0) }
    }

    public func createVault(header: VaultHeaderRow, slots: [KeySlotRow]) async throws {
        let columns = VaultHeaderColumn.allCases
        let insert = PostgresQuery(
            unsafeSQL: "INSERT INTO \(sql.header) (id, \(PostgresStatements.list(columns))) VALUES (1, "
                + PostgresStatements.placeholders(columns) + ") ON CONFLICT (id) DO NOTHING RETURNING 1",
            binds: try Self.bindings(columns, of: header)
        )
        try await transaction { connection in
            let inserted = try await Self.collect(connection.answer(insert, logger: logger))
            guard !inserted.isEmpty else { throw VaultError(.vaultExists, "a vault exists already in \(location)") }
            for slot in slots { _ = try await insertSlot(slot, connection, keepingID: false) }
        }
    }

    public func slotRows() async throws -> [KeySlotRow] {
        try await rows(PostgresQuery(unsafeSQL: sql.selectSlots)).map { try Self.storeRow($0) }
    }

    public func addSlot(_ slot: KeySlotRow) async throws -> Int64 {
        try await transaction { connection in
            try await requireCurrentKey(slot[.keyID], connection, exclusive: true)
            return try await insertSlot(slot, connection, keepingID: false)
        }
    }

    public func replaceSlot(id: Int64, with slot: KeySlotRow, expectedWrappedKey: StoreValue) async throws {
        try await transaction { connection in
            try await requireCurrentKey(slot[.keyID], connection, exclusive: true)
            let current = try await slotRows(connection)
            guard let previous = current.first(where: { $0[.id] == .integer(id) }) else {
                throw VaultError(.notFound, "no key slot \(id)")
            }
            guard previous[.wrappedKey] == expectedWrappedKey else {
                throw VaultError(.conflict, "key slot \(id) changed meanwhile; run the command again")
            }
            let columns = KeySlotColumn.allCases.filter { $0 != .id }
            var binds = try Self.bindings(columns, of: slot)
            binds.append(id)
            let sets = columns.enumerated().map {
                "\($0.element.rawValue) = $\($0.offset + 1)\(PostgresColumnType.of($0.element).cast)"
            }
            try await connection.answer(
                PostgresQuery(
                    unsafeSQL:
                        "UPDATE \(sql.slot) SET \(sets.joined(separator: ", ")) WHERE id = $\(columns.count + 1)",
                    binds: binds
                ),
                logger: logger
            )
        }
    }

    public func removeSlot(id: Int64, expectedSlots: [KeySlotRow]) async throws {
        try await transaction { connection in
            try await lockHeader(connection, exclusive: true)
            let current = try await slotRows(connection)
            guard current.contains(where: { $0[.id] == .integer(id) }) else {
                throw VaultError(.notFound, "no key slot \(id)")
            }
            guard current == expectedSlots else {
                throw VaultError(.conflict, "key slots changed meanwhile; run the command again")
            }
            try await connection.answer(
                PostgresQuery(unsafeSQL: "DELETE FROM \(sql.slot) WHERE id = \(id)"),
                logger: logger
            )
        }
    }

    public func accountRow(named name: AccountName) async throws -> AccountRow? {
        var binds = PostgresBindings()
        binds.append(name.rawValue)
        return try await rows(PostgresQuery(unsafeSQL: sql.selectAccount, binds: binds)).first.map {
            try Self.storeRow($0)
        }
    }

    public func accountRows() async throws -> [AccountRow] {
        try await rows(PostgresQuery(unsafeSQL: sql.selectAccounts)).map { try Self.storeRow($0) }
    }

    public func accountRows(after: String?, limit: Int) async throws -> [AccountRow] {
        var binds = PostgresBindings()
        var sql = "SELECT \(PostgresStatements.list(AccountColumn.allCases)) FROM \(self.sql.account)"
        if let after {
            guard !after.utf8.contains(0) else { throw VaultError(.invalidInput, "a page boundary holds NUL") }
            binds.append(after)
            sql += " WHERE name > $1::text"
        }
        binds.append(max(0, limit))
        sql += " ORDER BY name LIMIT $\(after == nil ? 1 : 2)::int8"
        return try await rows(PostgresQuery(unsafeSQL: sql, binds: binds)).map { try Self.storeRow($0) }
    }

    public func dueAccountRows(_ query: DueAccountQuery) async throws -> [AccountRow] {
        try await rows(try dueAccountsQuery(query)).map { try Self.storeRow($0) }
    }

    public func insert(_ row: AccountRow) async throws {
        let query = PostgresQuery(
            unsafeSQL: sql.insertAccount,
            binds: try Self.bindings(AccountColumn.allCases, of: row)
        )
        let inserted = try await rows(query)
        guard inserted.isEmpty else { return }
        // Nothing written: the name is taken, or the key id is no longer the header's (or there is no vault).
        let name = (row[.name].text ?? "").prefix(128)
        if let text = row[.name].text, let account = try? AccountName(text), try await accountRow(named: account) != nil
        {
            throw VaultError(.alreadyExists, "an account named '\(name)' exists already")
        }
        try await requireCurrentKeyOrThrow(row[.keyID])
        throw VaultError(.conflict, "'\(name)' could not be inserted; run the command again")
    }

    public func update(_ row: AccountRow, expectedGeneration: Int64) async throws {
        var binds = try Self.bindings(PostgresStatements.updated, of: row)
        try Self.bind(row[.name], AccountColumn.name, into: &binds)
        binds.append(expectedGeneration)
        let updated = try await rows(PostgresQuery(unsafeSQL: sql.compareAndSwap, binds: binds))
        guard updated.isEmpty else { return }
        try await requireCurrentKeyOrThrow(row[.keyID])
        try await throwCompareAndSwapFailure(row)
    }

    /// One transaction: the header locked `FOR SHARE` (no rotation meanwhile; other inserts may run), then each row
    /// written by compare-and-swap or inserted; the first failure rolls every row back.
    public func importAccounts(_ rows: [AccountRow], replacing expectedGenerations: [AccountName: Int64]) async throws {
        try await transaction { connection in
            let keyID = try await lockHeader(connection, exclusive: false)
            for row in rows {
                guard row[.keyID] == keyID else {
                    throw VaultError(.conflict, "the data key was rotated meanwhile; open the vault again")
                }
                let name = (row[.name].text ?? "").prefix(128)
                if let account = row[.name].text.flatMap({ try? AccountName($0) }),
                    let expected = expectedGenerations[account]
                {
                    do { try await compareAndSwapLocked(row, expected: expected, connection) } catch let error
                        as VaultError where error.code == .notFound
                    {
                        throw VaultError(.conflict, "'\(name)' was removed during the import; run it again")
                    }
                } else {
                    let inserted = try await Self.collect(
                        connection.answer(
                            PostgresQuery(
                                unsafeSQL: sql.insertAccount,
                                binds: try Self.bindings(AccountColumn.allCases, of: row)
                            ),
                            logger: logger
                        )
                    )
                    guard !inserted.isEmpty else {
                        throw VaultError(.alreadyExists, "an account named '\(name)' exists already")
                    }
                }
            }
        }
    }

    public func deleteAccount(named name: AccountName) async throws -> Bool {
        var binds = PostgresBindings()
        binds.append(name.rawValue)
        let deleted = try await rows(
            PostgresQuery(unsafeSQL: "DELETE FROM \(sql.account) WHERE name = $1::text RETURNING 1", binds: binds)
        )
        return !deleted.isEmpty
    }

    public func upgradeFormat(
        rows: [AccountRow],
        expectedGenerations: [AccountName: Int64],
        formatVersion: Int?,
        accountCount: Int
    ) async throws {
        try await transaction { connection in
            let keyID = try await lockHeader(connection, exclusive: true)
            for row in rows {
                guard row[.keyID] == keyID else {
                    throw VaultError(.conflict, "the data key was rotated meanwhile; open the vault again")
                }
                try await compareAndSwapLocked(
                    row,
                    expected: try row.expectedGeneration(in: expectedGenerations),
                    connection
                )
            }
            guard let formatVersion else { return }
            guard try await countAccounts(connection) == accountCount else {
                throw VaultError(.conflict, "accounts were added or removed during the format upgrade")
            }
            try await connection.answer(
                PostgresQuery(
                    unsafeSQL: "UPDATE \(sql.header) SET format_version = \(Int64(formatVersion)) WHERE id = 1"
                ),
                logger: logger
            )
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
        try await transaction { connection in
            guard try await lockHeader(connection, exclusive: true) == .integer(expectedKeyID) else {
                throw VaultError(.conflict, "the data key was rotated meanwhile; open the vault again")
            }
            guard try await slotRows(connection) == expectedSlots else {
                throw VaultError(.conflict, "key slots changed during the key rotation; run it again")
            }
            guard try await countAccounts(connection) == rows.count else {
                throw VaultError(.conflict, "accounts were added or removed during the key rotation; run it again")
            }
            try await connection.answer(
                PostgresQuery(unsafeSQL: "UPDATE \(sql.header) SET key_id = \(newKeyID) WHERE id = 1"),
                logger: logger
            )
            try await connection.answer(PostgresQuery(unsafeSQL: "DELETE FROM \(sql.slot)"), logger: logger)
            for slot in slots { _ = try await insertSlot(slot, connection, keepingID: true) }
            for row in rows {
                try await compareAndSwapLocked(
                    row,
                    expected: try row.expectedGeneration(in: expectedGenerations),
                    connection
                )
            }
        }
    }

    /// The schema's version and columns against the migrations', and whether the connection is protected as the
    /// location asks (a `disable` location to a host that is not loopback is reported).
    public func checkStorage() async throws -> [VaultError] {
        var problems = try await schemaProblems()
        if location.tlsMode == .disable && !PostgresLocation.isLoopback(location.host) {
            problems.append(
                VaultError(
                    .unsafePermissions,
                    "sslmode=disable to \(location.endpoint), which is not loopback: the sealed values are safe, but "
                        + "the credentials and metadata cross the network in the clear"
                )
            )
        }
        return problems
    }

    // MARK: - Helpers

    @discardableResult
    func lockHeader(_ connection: PostgresConnection, exclusive: Bool) async throws -> StoreValue {
        let rows = try await Self.collect(
            connection.answer(PostgresQuery(unsafeSQL: sql.lockHeader(exclusive: exclusive)), logger: logger)
        )
        guard let row = rows.first else { throw VaultError(.noVault, "\(location) holds no vault") }
        return try Self.value(row.first!)
    }

    private func requireCurrentKey(_ keyID: StoreValue, _ connection: PostgresConnection, exclusive: Bool) async throws
    {
        guard try await lockHeader(connection, exclusive: exclusive) == keyID else {
            throw VaultError(.conflict, "the data key was rotated meanwhile; open the vault again")
        }
    }

    /// After a write that changed nothing: ``VaultError/Code/conflict`` if `keyID` is not the header's (or
    /// ``VaultError/Code/noVault``), else returns.
    private func requireCurrentKeyOrThrow(_ keyID: StoreValue) async throws {
        guard let header = try await headerRow() else { throw VaultError(.noVault, "\(location) holds no vault") }
        guard header[.keyID] == keyID else {
            throw VaultError(.conflict, "the data key was rotated meanwhile; open the vault again")
        }
    }

    private func throwCompareAndSwapFailure(_ row: AccountRow) async throws -> Never {
        let name = (row[.name].text ?? "").prefix(128)
        if let text = row[.name].text, let account = try? AccountName(text), try await accountRow(named: account) != nil
        {
            throw VaultError(.conflict, "'\(name)' changed since it was read (generation)")
        }
        throw VaultError(.notFound, "no account named '\(name)'")
    }

    private func compareAndSwapLocked(_ row: AccountRow, expected: Int64, _ connection: PostgresConnection) async throws
    {
        var binds = try Self.bindings(PostgresStatements.updated, of: row)
        try Self.bind(row[.name], AccountColumn.name, into: &binds)
        binds.append(expected)
        let updated = try await Self.collect(
            connection.answer(PostgresQuery(unsafeSQL: sql.compareAndSwapLocked, binds: binds), logger: logger)
        )
        guard updated.isEmpty else { return }
        var lookup = PostgresBindings()
        try Self.bind(row[.name], AccountColumn.name, into: &lookup)
        let exists = try await Self.collect(
            connection.answer(
                PostgresQuery(unsafeSQL: "SELECT 1 FROM \(sql.account) WHERE name = $1::text", binds: lookup),
                logger: logger
            )
        )
        let name = (row[.name].text ?? "").prefix(128)
        if exists.isEmpty { throw VaultError(.notFound, "no account named '\(name)'") }
        throw VaultError(.conflict, "'\(name)' changed since it was read (generation)")
    }

    private func slotRows(_ connection: PostgresConnection) async throws -> [KeySlotRow] {
        try await Self.collect(connection.answer(PostgresQuery(unsafeSQL: sql.selectSlots), logger: logger)).map {
            try Self.storeRow($0)
        }
    }

    private func insertSlot(_ slot: KeySlotRow, _ connection: PostgresConnection, keepingID: Bool) async throws -> Int64
    {
        let columns = KeySlotColumn.allCases.filter { keepingID || $0 != .id }
        let rows = try await Self.collect(
            connection.answer(
                PostgresQuery(
                    unsafeSQL: sql.insertSlot(keepingID: keepingID),
                    binds: try Self.bindings(columns, of: slot)
                ),
                logger: logger
            )
        )
        guard let id = try rows.first?.decode(Int64.self) else {
            throw VaultError(.storage, "the server assigned no key slot id")
        }
        return id
    }

    private func countAccounts(_ connection: PostgresConnection) async throws -> Int {
        let rows = try await Self.collect(
            connection.answer(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(sql.account)"), logger: logger)
        )
        return Int(try rows.first?.decode(Int64.self) ?? 0)
    }
}
