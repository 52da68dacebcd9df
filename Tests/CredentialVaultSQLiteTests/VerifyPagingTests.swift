import CredentialVault
import CredentialVaultSQLite
import Foundation
import Logging
import Synchronization
import Testing

/// `verify` reads accounts a page at a time (BENCHMARKS.md, "Scale"), so it is not one snapshot: accounts added or
/// removed while it runs must not be reported as problems.
@Suite("verify over pages")
struct VerifyPagingTests {
    let dir: TempDir
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws { dir = try TempDir() }

    static func add(_ vault: CredentialVault, _ names: some Sequence<String>) async throws {
        for name in names {
            try await vault.addAccount(
                sampleAccount(try AccountName(name), .clientCredentials),
                secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "cs-\(name)"))
            )
        }
    }

    @Test(
        "accounts added and removed between verify's pages, before and after the boundary: no problem reported"
    )
    func changesBetweenPages() async throws {
        let key = KeyFileKey.generate()
        let path = dir.file("vault.sqlite")
        let writer = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: path, create: true),
            slots: [.key(key)],
            logger: logger
        )
        try await Self.add(writer, (0..<1200).map { String(format: "m-%04d", $0) })
        // Before the second page (after m-0499): two accounts added before the boundary (not read), one added after
        // it (read) and one removed after it (not read), so the rows read (1,200) and the rows stored at the end
        // (1,202) differ without any problem.
        let changed = Mutex(false)
        let store = InstrumentedStore(try SQLiteCredentialStore(path: path)) { after in
            guard after == "m-0499", !changed.withLock({ $0 }) else { return }
            changed.withLock { $0 = true }
            try await Self.add(writer, ["m-0100x", "m-0101x", "m-0700x"])
            try await writer.removeAccount(named: "m-0800")
        }
        let vault = try await CredentialVault.open(store, with: .key(key), logger: logger)
        let report = try await vault.verify()
        #expect(changed.withLock { $0 }, "the change between pages did not run")
        #expect(report.problems.isEmpty, "\(report.problems.map(\.message))")
        #expect(report.accountCount == 1200)
        let after = try await CredentialVault.open(SQLiteCredentialStore(path: path), with: .key(key), logger: logger)
        #expect(try await after.verify().accountCount == 1202)
    }
}
