import CredentialVault
import Foundation
import Logging
import TestSupport
import Testing

@testable import CredentialVaultPostgres

@Suite("PostgreSQL store: failure counts, counts by status and single-use claims (schema v2)")
struct PostgresBackendTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    @Test("a vault of schema version 1 is migrated to version 2 when an instance connects; its records read as before")
    func schemaUpgrade() async throws {
        let location = try PostgresSupport.location()
        let created = try await PostgresSupport.store(location, create: true)
        // A passphrase slot: a version-1 key-file slot had no fingerprint, which this version's slots bind.
        let passphrase = SecureBytes(utf8: "schema upgrade passphrase")
        let vault = try await CredentialVault.create(
            in: created,
            slots: [.passphrase(passphrase, .interactive)],
            logger: logger
        )
        try await vault.addAccount(
            Account(name: "acme", mode: .clientCredentials, clientID: "c", tokenURL: "https://example.com/token"),
            secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "s"))
        )
        await created.close()
        // Back to what version 1 made: no failure count, no status index, no claims table.
        let schema = "\"\(location.schema)\""
        try PostgresTestServer.configured().psql(
            "DROP INDEX \(schema).account_by_status; ALTER TABLE \(schema).account DROP COLUMN consecutive_failures; "
                + "DROP TABLE \(schema).single_use; ALTER TABLE \(schema).vault_header DROP COLUMN location; "
                + "ALTER TABLE \(schema).key_slot DROP COLUMN label; ALTER TABLE \(schema).key_slot DROP COLUMN fingerprint; "
                + "DELETE FROM \(schema).schema_migration WHERE version >= 2"
        )
        let store = try await PostgresSupport.store(location)
        let versions = try PostgresTestServer.configured().psql(
            "SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM \(schema).schema_migration"
        )
        #expect(versions == "1:v1,2:v2-failures-counts-single-use,3:v3-location,4:v4-slot-label")
        #expect(try await store.checkStorage().isEmpty)
        #expect(try await store.accountRow(named: "acme")?[.consecutiveFailures] == .null)
        let reopened = try await CredentialVault.open(store, with: .passphrase(passphrase), logger: logger)
        #expect(try await reopened.account(named: "acme").consecutiveFailures == 0)
        #expect(try await reopened.accountCounts() == AccountCounts(ok: 1))
        #expect(try await reopened.claimSingleUse([1], until: Date().addingTimeInterval(60)))
        await store.close()
    }

    @Test("the counts by status can be served by the status index")
    func statusCountsUseIndex() async throws {
        let store = try await PostgresSupport.store(try PostgresSupport.location(), create: true)
        let plan = try await store.accountStatusCountsQueryPlan().joined(separator: "\n")
        #expect(plan.contains("account_by_status"), "\(plan)")
        await store.close()
    }

    @Test("a claim prunes at most a batch of other expired claims, oldest first; unexpired ones stay")
    func singleUsePruning() async throws {
        let location = try PostgresSupport.location()
        let store = try await PostgresSupport.store(location, create: true)
        let table = "\"\(location.schema)\".single_use"
        let server = try PostgresTestServer.configured()
        // 250 expired claims, planted-0 the most recent; one live claim.
        try server.psql(
            "INSERT INTO \(table) SELECT convert_to('planted-' || i, 'UTF8'), "
                + "extract(epoch FROM now())::float8 - 60 - i FROM generate_series(0, 249) AS i"
        )
        let future = Date().addingTimeInterval(3600)
        #expect(try await store.claimSingleUse(Array("live".utf8), expiresAt: future))
        #expect(try server.psql("SELECT count(*) FROM \(table)") == "151")
        let oldestLeft = try server.psql(
            "SELECT convert_from(key, 'UTF8') FROM \(table) WHERE expires_at < extract(epoch FROM now()) "
                + "ORDER BY expires_at LIMIT 1"
        )
        #expect(oldestLeft == "planted-149")
        #expect(try await store.claimSingleUse(Array("next".utf8), expiresAt: future))
        #expect(try await store.claimSingleUse(Array("last".utf8), expiresAt: future))
        let keys = try server.psql("SELECT string_agg(convert_from(key, 'UTF8'), ',' ORDER BY key) FROM \(table)")
        #expect(keys == "last,live,next")
        #expect(try await store.claimSingleUse(Array("live".utf8), expiresAt: future) == false)
        await store.close()
    }

    @Test("concurrent claims of one key from three store instances (separate pools): exactly one wins")
    func singleUseAcrossInstances() async throws {
        let location = try PostgresSupport.location()
        let first = try await PostgresSupport.store(location, create: true)
        let instances = [first, try await PostgresSupport.store(location), try await PostgresSupport.store(location)]
        let expiresAt = Date().addingTimeInterval(600)
        for round in 0..<10 {
            let key = Array("state-\(round)".utf8)
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<24 {
                    let store = instances[index % instances.count]
                    group.addTask { try await store.claimSingleUse(key, expiresAt: expiresAt) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1, "round \(round): \(wins) winners")
        }
        for store in instances { await store.close() }
    }
}
