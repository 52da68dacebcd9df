import CredentialStoreConformance
import CredentialVault
import Foundation
import GRDB
import Testing

@testable import CredentialVaultSQLite

@Suite("SQLite store: the CredentialStore conformance suite")
struct SQLiteConformanceTests {
    let dir: TempDir
    let factory: StoreFactory

    init() throws {
        let dir = try TempDir()
        self.dir = dir
        factory = StoreFactory(
            name: "sqlite",
            makeStore: { try SQLiteCredentialStore(path: dir.file("\(UUID().uuidString).sqlite"), create: true) },
            sameStorage: { try SQLiteCredentialStore(path: ($0 as! SQLiteCredentialStore).path) },
            tamper: { store, name, column, value in
                // Another connection, as an attacker with write access to the file would use.
                let queue = try DatabaseQueue(path: (store as! SQLiteCredentialStore).path)
                try await queue.write { db in
                    try db.execute(
                        sql: "UPDATE account SET \(column.rawValue) = ? WHERE name = ?",
                        arguments: [value.databaseValue, name.rawValue]
                    )
                }
                try queue.close()
            }
        )
    }

    @Test(arguments: CredentialStoreConformance.cases)
    func conformance(_ check: ConformanceCase) async throws { try await check.run(factory) }

    @Test("the due-accounts query uses the expiry and refresh indexes, not a scan of the account table")
    func dueAccountsUseIndexes() async throws {
        let store = try SQLiteCredentialStore(path: dir.file("plan.sqlite"), create: true)
        let query = DueAccountQuery(expiringBefore: Date(), refreshedBefore: Date(), now: Date())
        let plan = try store.dueAccountsQueryPlan(query).joined(separator: "\n")
        #expect(plan.contains("account_by_expiry"), "\(plan)")
        #expect(plan.contains("account_by_refresh"), "\(plan)")
        #expect(!plan.contains("SCAN account"), "\(plan)")
    }

    @Test("a vault of the first schema gains every later step when opened: due accounts, failures, single use")
    func schemaUpgrade() async throws {
        let copy = try copyOfFormatOneVault(in: dir)
        let store = try SQLiteCredentialStore(path: copy)
        let rows = try await store.accountRows()
        #expect(!rows.isEmpty)
        #expect(rows.allSatisfy { $0[.nextAttemptAt] == .null && $0[.consecutiveFailures] == .null })
        #expect(try rows.allSatisfy { try Account(metadataRow: $0).consecutiveFailures == 0 })
        let plan = try store.dueAccountsQueryPlan(DueAccountQuery(expiringBefore: Date())).joined(separator: "\n")
        #expect(plan.contains("account_by_expiry"), "\(plan)")
        #expect(try await store.accountStatusCounts(now: Date()).map(\.count).reduce(0, +) == rows.count)
        #expect(try await store.claimSingleUse([1, 2, 3], expiresAt: Date().addingTimeInterval(60)))
        let applied = try await store.queue.read {
            try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations")
        }
        #expect(
            applied == [
                "v1", "v2-due-accounts", "v3-failures-counts-single-use", "v4-location", "v5-slot-label",
                "v6-compact-rows",
            ]
        )
    }

    @Test("the counts by status read only the covering status index, never the account rows")
    func statusCountsUseIndex() async throws {
        let store = try SQLiteCredentialStore(path: dir.file("counts.sqlite"), create: true)
        let plan = try store.accountStatusCountsQueryPlan().joined(separator: "\n")
        #expect(plan.contains("USING COVERING INDEX account_by_status"), "\(plan)")
    }

    @Test("a claim prunes at most a batch of other expired claims, oldest first; unexpired ones stay")
    func singleUsePruning() async throws {
        let store = try SQLiteCredentialStore(path: dir.file("claims.sqlite"), create: true)
        let past = Date().addingTimeInterval(-60)
        let future = Date().addingTimeInterval(3600)
        for index in 0..<150 {
            #expect(try await store.claimSingleUse(Array("old-\(index)".utf8), expiresAt: past))
        }
        #expect(try await store.claimSingleUse(Array("live".utf8), expiresAt: future))
        func count() throws -> Int {
            try store.queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM single_use") ?? -1 }
        }
        // Each claim above pruned the expired one before it: only the live claim is left.
        #expect(try count() == 1)
        let queue = try DatabaseQueue(path: store.path)
        try await queue.write { db in
            for index in 0..<250 {
                try db.execute(
                    sql: "INSERT INTO single_use (key, expires_at) VALUES (?, ?)",
                    arguments: [Data("planted-\(index)".utf8), past.timeIntervalSince1970 - Double(index)]
                )
            }
        }
        try queue.close()
        let before = try count()
        #expect(try await store.claimSingleUse(Array("next".utf8), expiresAt: future))
        #expect(try count() == before - 100 + 1)
        // The oldest went first: planted-150 to planted-249 (the earliest expiries) are gone, the others are left.
        func keys() throws -> Set<String> {
            Set(
                try store.queue.read { try Data.fetchAll($0, sql: "SELECT key FROM single_use") }
                    .map { String(decoding: $0, as: UTF8.self) }
            )
        }
        let left = try keys()
        #expect((0..<150).allSatisfy { left.contains("planted-\($0)") })
        #expect((150..<250).allSatisfy { !left.contains("planted-\($0)") })
        for index in 0..<2 { #expect(try await store.claimSingleUse(Array("more-\(index)".utf8), expiresAt: future)) }
        #expect(try keys() == ["live", "next", "more-0", "more-1"])
        #expect(try await store.claimSingleUse(Array("live".utf8), expiresAt: future) == false)
    }
}
