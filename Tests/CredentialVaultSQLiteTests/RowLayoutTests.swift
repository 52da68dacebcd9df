import CredentialVault
import Foundation
import GRDB
import Logging
import Testing

@testable import CredentialVaultSQLite

/// The account table's layout (schema step `v6-compact-rows`): rows of about 1.2 KB stay on their b-tree page, the
/// sealed values come last, and a vault of an earlier layout is converted when opened.
@Suite("SQLite store: account rows on disk")
struct RowLayoutTests {
    let dir: TempDir
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws { dir = try TempDir() }

    @Test("2,000 accounts with a 1 KiB access token take at most 1.5 times the bytes they hold")
    func sizeOnDisk() async throws {
        let path = dir.file("size.sqlite")
        let vault = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: path, create: true),
            slots: [.key(KeyFileKey.generate())],
            logger: logger
        )
        let token = String(repeating: "a", count: 1024)
        for index in 0..<2000 {
            try await vault.addAccount(
                sampleAccount(try AccountName("tenant-\(index)")),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: String(repeating: "s", count: 40)),
                    refreshToken: SecureBytes(utf8: String(repeating: "r", count: 64)),
                    accessToken: SecureBytes(utf8: token)
                )
            )
        }
        let queue = try DatabaseQueue(path: path)
        let (held, fileBytes) = try await queue.writeWithoutTransaction { db in
            let lengths = AccountColumn.allCases.map { "coalesce(length(\($0.rawValue)), 0)" }.joined(separator: " + ")
            let held = try Int.fetchOne(db, sql: "SELECT sum(\(lengths)) FROM account") ?? 0
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            return (held, pages * pageSize)
        }
        try queue.close()
        #expect(held > 2000 * 1024)
        #expect(Double(fileBytes) <= 1.5 * Double(held), "\(fileBytes) bytes on disk for \(held) bytes of data")
    }

    @Test("a vault of the first layout is rebuilt as a rowid table with the sealed values last, every value kept")
    func upgradeKeepsAccounts() async throws {
        let copy = try copyOfFormatOneVault(in: dir)
        let before = try DatabaseQueue(path: copy)
        let rowsBefore = try await before.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM account ORDER BY name").map { row in
                Dictionary(uniqueKeysWithValues: row.columnNames.map { ($0, row[$0] as DatabaseValue) })
            }
        }
        try before.close()
        #expect(!rowsBefore.isEmpty)

        let store = try SQLiteCredentialStore(path: copy)
        let (definition, columns, rowsAfter) = try await store.queue.read { db in
            (
                try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'account'") ?? "",
                try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info('account') ORDER BY cid"),
                try Row.fetchAll(db, sql: "SELECT * FROM account ORDER BY name").map { row in
                    Dictionary(uniqueKeysWithValues: row.columnNames.map { ($0, row[$0] as DatabaseValue) })
                }
            )
        }
        #expect(!definition.uppercased().contains("WITHOUT ROWID"), "\(definition)")
        #expect(columns.suffix(3) == ["client_secret", "refresh_token", "access_token"])
        #expect(Set(columns) == Set(AccountColumn.allCases.map(\.rawValue)))
        // Every value kept, byte for byte (the migration copies, it does not re-encode); later columns are NULL.
        let earlier = Set(rowsBefore[0].keys)
        #expect(rowsAfter.map { $0.filter { earlier.contains($0.key) } } == rowsBefore)
        #expect(rowsAfter.allSatisfy { $0.filter { !earlier.contains($0.key) }.values.allSatisfy(\.isNull) })
    }
}
