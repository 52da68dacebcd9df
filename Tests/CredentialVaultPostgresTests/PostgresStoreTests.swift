import CredentialVault
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import CredentialVaultPostgres

@Suite("PostgreSQL store: schema, several vaults per database, locks, connection failures")
struct PostgresStoreTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func account(_ name: AccountName) -> Account {
        Account(name: name, mode: .clientCredentials, clientID: "c-\(name)", tokenURL: "https://example.com/token")
    }

    @Test("two vaults in one database (schema=): separate data, separate locks")
    func severalVaults() async throws {
        let first = try await PostgresSupport.store(try PostgresSupport.location(), create: true)
        let second = try await PostgresSupport.store(try PostgresSupport.location(), create: true)
        let a = try await CredentialVault.create(in: first, slots: [.key(.generate())], logger: logger)
        let b = try await CredentialVault.create(in: second, slots: [.key(.generate())], logger: logger)
        try await a.addAccount(account("acme"), secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "a")))
        #expect(try await b.accounts().isEmpty)
        try await b.addAccount(account("acme"), secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "b")))
        let otherVaultsLock = try await first.withAccountLock("acme", timeout: .seconds(5)) {
            try await second.withAccountLock("acme", timeout: .seconds(1)) { true }
        }
        #expect(otherVaultsLock)
        #expect(try await b.openAccount(named: "acme").secrets.clientSecret?.unsafeStringValue() == "b")
        await first.close()
        await second.close()
    }

    @Test("a schema without a vault is refused without create; a newer schema version is refused with a clear message")
    func schemaVersions() async throws {
        let location = try PostgresSupport.location()
        await expectVaultError(.noVault) { _ = try await PostgresSupport.store(location) }
        let store = try await PostgresSupport.store(location, create: true)
        await store.close()
        try await PostgresSupport.execute(
            PostgresQuery(
                unsafeSQL: "INSERT INTO \"\(location.schema)\".schema_migration (version, name) VALUES (99, 'future')"
            )
        )
        let error = await expectVaultError(.storage) { _ = try await PostgresSupport.store(location) }
        #expect(error?.message.contains("version 99, newer than this sendcloud-vault knows") == true)
    }

    @Test("instances creating one schema at once: the migration runs once, one vault is created")
    func concurrentInit() async throws {
        let location = try PostgresSupport.location()
        let results = await withTaskGroup(of: Result<Bool, any Error>.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    do {
                        let store = try await PostgresSupport.store(location, create: true)
                        defer { Task { await store.close() } }
                        _ = try await CredentialVault.create(
                            in: store,
                            slots: [.key(.generate())],
                            logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
                        )
                        return .success(true)
                    } catch {
                        return .failure(error)
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { (try? $0.get()) == true }.count == 1)
        #expect(
            results.allSatisfy {
                if case .failure(let e) = $0 { (e as? VaultError)?.code == .vaultExists } else { true }
            }
        )
        let rows = try PostgresTestServer.configured().psql(
            "SELECT count(*) FROM \"\(location.schema)\".schema_migration"
        )
        #expect(rows == String(PostgresCredentialStore.migrations.count))
    }

    @Test(
        "a holder whose session dies keeps others out with its renewed lease until it finishes; then the lock is free"
    )
    func sessionLostHolderKeepsLease() async throws {
        let location = try PostgresSupport.location()
        let holder = try await PostgresSupport.store(
            location,
            create: true,
            configuration: .init(lockLease: .seconds(3))
        )
        let vault = try await CredentialVault.create(in: holder, slots: [.key(.generate())], logger: logger)
        try await vault.addAccount(account("acme"), secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "s")))
        let other = try await PostgresSupport.store(location)
        let (entered, enteredSignal) = AsyncStream.makeStream(of: Void.self)
        let (finish, finishSignal) = AsyncStream.makeStream(of: Void.self)
        let holding = Task {
            try await holder.withAccountLock("acme", timeout: .seconds(5)) {
                enteredSignal.yield()
                for await _ in finish { break }
            }
        }
        for await _ in entered { break }
        await expectVaultError(.lockTimeout) {
            try await other.withAccountLock("acme", timeout: .milliseconds(300)) { () }
        }
        // The holder's session dies (a restart, a failover), while the holder itself works on: the server drops its
        // advisory lock, but its lease, renewed over the query pool, still keeps others out — past the lease's
        // length, so it is the renewal that holds.
        let id = try await holder.vaultID()
        let key = PostgresCredentialStore.lockKey(label: "sendcloud-vault/account-lock/v1", [id, Array("acme".utf8)])
        let high = Int64(UInt64(bitPattern: key) >> 32)
        let low = Int64(UInt64(bitPattern: key) & 0xFFFF_FFFF)
        let killed = try PostgresTestServer.configured().psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND classid = \(high) "
                + "AND objid = \(low) AND objsubid = 1 AND granted"
        )
        #expect(killed == "1")
        try await Task.sleep(for: .seconds(4))
        let waiting = await expectVaultError(.lockTimeout) {
            try await other.withAccountLock("acme", timeout: .seconds(1)) { () }
        }
        #expect(waiting?.message.contains("lease") == true, "\(String(describing: waiting))")
        // The holder finishes: its lease goes, and the next caller gets the lock.
        finishSignal.yield()
        try await holding.value
        #expect(try await other.withAccountLock("acme", timeout: .seconds(10)) { true })
        await holder.close()
        await other.close()
    }

    @Test("a lease left by a holder that died expires: the next caller gets the lock once it has")
    func deadHoldersLeaseExpires() async throws {
        let location = try PostgresSupport.location()
        let store = try await PostgresSupport.store(location, create: true)
        _ = try await CredentialVault.create(in: store, slots: [.key(.generate())], logger: logger)
        try PostgresTestServer.configured().psql(
            "INSERT INTO \"\(location.schema)\".account_lease VALUES ('acme', 'dead', "
                + "extract(epoch FROM clock_timestamp())::float8 + 5)"
        )
        await expectVaultError(.lockTimeout) {
            try await store.withAccountLock("acme", timeout: .milliseconds(500)) { () }
        }
        // The every-account lock waits for live leases too (a rotation must not run under a refresh in flight).
        await expectVaultError(.lockTimeout) {
            try await store.withEveryAccountLock(timeout: .milliseconds(500)) { () }
        }
        #expect(try await store.withAccountLock("acme", timeout: .seconds(30)) { true })
        #expect(try await store.withEveryAccountLock(timeout: .seconds(5)) { true })
        #expect(
            try PostgresTestServer.configured().psql("SELECT count(*) FROM \"\(location.schema)\".account_lease") == "0"
        )
        // A planted lease that claims to run far longer than any holder's cannot block the account for ever.
        try PostgresTestServer.configured().psql(
            "INSERT INTO \"\(location.schema)\".account_lease VALUES ('acme', 'planted', 1e300)"
        )
        #expect(try await store.withAccountLock("acme", timeout: .seconds(2)) { true })
        #expect(try await store.withEveryAccountLock(timeout: .seconds(2)) { true })
        await store.close()
    }

    @Test("verify reports an altered column type, a dropped NOT NULL and a missing table")
    func schemaChecks() async throws {
        let location = try PostgresSupport.location()
        let store = try await PostgresSupport.store(location, create: true)
        let vault = try await CredentialVault.create(in: store, slots: [.key(.generate())], logger: logger)
        #expect(try await vault.verify().isSound)
        let schema = "\"\(location.schema)\""
        try PostgresTestServer.configured().psql(
            "ALTER TABLE \(schema).account ALTER COLUMN scopes TYPE varchar(200); "
                + "ALTER TABLE \(schema).account ALTER COLUMN mode DROP NOT NULL"
        )
        let problems = try await store.checkStorage().map(\.message)
        #expect(problems.contains { $0.contains("account.scopes is character varying") }, "\(problems)")
        #expect(problems.contains { $0.contains("account.mode lost its NOT NULL") }, "\(problems)")
        #expect(try await vault.verify().isSound == false)
        await store.close()
    }

    @Test("text PostgreSQL cannot hold (NUL) and a value of the wrong class are refused as invalid input")
    func unstorableValues() async throws {
        let store = try await PostgresSupport.store(try PostgresSupport.location(), create: true)
        let vault = try await CredentialVault.create(in: store, slots: [.key(.generate())], logger: logger)
        try await vault.addAccount(account("acme"), secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "s")))
        var row = try #require(try await store.accountRow(named: "acme"))
        row[.clientID] = .text("a\u{0}b")
        await expectVaultError(.invalidInput) { try await store.update(row, expectedGeneration: 1) }
        row[.clientID] = .blob([1, 2])
        await expectVaultError(.invalidInput) { try await store.update(row, expectedGeneration: 1) }
        #expect(try await vault.account(named: "acme").clientID == "c-acme")
        await store.close()
    }

    @Test("an unreachable server, a wrong password: clear errors naming the host and no secret")
    func connectionFailures() async throws {
        let server = try PostgresTestServer.configured()
        let closed = try PostgresLocation(url: "postgres://\(server.user)@127.0.0.1:1/\(server.database)")
        let unreachable = await expectVaultError(.unavailable) {
            _ = try await PostgresCredentialStore.connect(to: closed, password: server.password)
        }
        #expect(unreachable?.message.contains("127.0.0.1:1") == true)
        let location = try PostgresSupport.location()
        let denied = await expectVaultError(.accessDenied) {
            _ = try await PostgresCredentialStore.connect(to: location, password: "wrong-\(server.password)")
        }
        #expect(denied.map { !$0.message.contains(server.password) && $0.message.contains("password") } == true)
        #expect(denied.map { !String(reflecting: $0).contains(server.password) } == true)
    }

    @Test("the server restarting: calls fail as unavailable while it is down, and work again after")
    func restart() async throws {
        let server = try PostgresTestServer.startPrivate()
        defer { server.stopPrivate() }
        let location = try PostgresLocation(url: server.url(schema: "restart"))
        let store = try await PostgresCredentialStore.connect(to: location, password: server.password, create: true)
        let vault = try await CredentialVault.create(in: store, slots: [.key(.generate())], logger: logger)
        try await vault.addAccount(account("acme"), secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "s")))
        try server.restart()
        // The pooled connections were cut: a call may fail (unavailable), never with another code.
        var succeeded = false
        for _ in 0..<20 where !succeeded {
            do {
                _ = try await vault.openAccount(named: "acme")
                succeeded = true
            } catch let error as VaultError {
                #expect(error.code == .unavailable, "\(error)")
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(succeeded)
        #expect(try await vault.verify().isSound)
        await store.close()
    }
}
