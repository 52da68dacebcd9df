import CredentialVault
import CredentialVaultSQLite
import Foundation
import Logging
import Testing

/// `verify` reads accounts a page at a time (BENCHMARKS.md, "Scale"), so it is not one snapshot: accounts added or
/// removed while it runs must not be reported as problems.
@Suite("verify over pages")
struct VerifyPagingTests {
    let dir: TempDir
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws { dir = try TempDir() }

    func add(_ vault: CredentialVault, _ names: some Sequence<String>) async throws {
        for name in names {
            try await vault.addAccount(
                sampleAccount(try AccountName(name), .clientCredentials),
                secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "cs-\(name)"))
            )
        }
    }

    @Test("accounts added and removed while verify pages through 1,200 others: no problem reported")
    func concurrentChanges() async throws {
        let key = KeyFileKey.generate()
        let path = dir.file("vault.sqlite")
        let vault = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: path, create: true),
            slots: [.key(key)],
            logger: logger
        )
        try await add(vault, (0..<1200).map { String(format: "m-%04d", $0) })
        // Names before and after every page boundary of the running verify; a second process's vault on the file.
        let writer = try await CredentialVault.open(SQLiteCredentialStore(path: path), with: .key(key), logger: logger)
        for round in 0..<3 {
            async let report = vault.verify()
            let churn =
                (0..<60).map { String(format: "a-%d-%03d", round, $0) }
                + (0..<60).map { String(format: "z-%d-%03d", round, $0) }
            try await add(writer, churn)
            for name in churn.prefix(90) { try await writer.removeAccount(named: try AccountName(name)) }
            let verified = try await report
            #expect(verified.problems.isEmpty, "\(verified.problems.map(\.message))")
            #expect((1200...(1200 + 30 * round + 120)).contains(verified.accountCount), "\(verified.accountCount)")
        }
    }
}
