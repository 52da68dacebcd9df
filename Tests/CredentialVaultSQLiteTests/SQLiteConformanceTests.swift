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

    @Test("a vault of the first schema gains the due-accounts column and indexes when opened")
    func schemaUpgrade() async throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/format-1/vault.sqlite").path
        let copy = dir.file("old.sqlite")
        try FileManager.default.copyItem(atPath: fixture, toPath: copy)
        chmod(copy, 0o600)
        let store = try SQLiteCredentialStore(path: copy)
        #expect(try await store.accountRows().allSatisfy { $0[.nextAttemptAt] == .null })
        let plan = try store.dueAccountsQueryPlan(DueAccountQuery(expiringBefore: Date())).joined(separator: "\n")
        #expect(plan.contains("account_by_expiry"), "\(plan)")
    }
}
