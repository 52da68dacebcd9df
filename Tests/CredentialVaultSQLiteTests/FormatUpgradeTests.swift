import CredentialVault
import Foundation
import GRDB
import Logging
import Testing

@testable import CredentialVaultSQLite

/// A vault written by format 1 (committed under Fixtures/format-1, made by the CLI before metadata authentication)
/// opens, is upgraded in place at unlock, and is protected afterwards.
@Suite("Upgrading a format-1 vault")
struct FormatUpgradeTests {
    let dir: TempDir
    let path: String
    let key: KeyFileKey
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws {
        dir = try TempDir()
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Fixtures/format-1"
        )
        path = dir.file("vault.sqlite")
        try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent("vault.sqlite").path, toPath: path)
        chmod(path, 0o600)
        let keyText = try Data(contentsOf: fixtures.appendingPathComponent("vault.key"))
        key = try KeyFileKey(base64Text: keyText.withUnsafeBytes { SecureBytes(copying: $0) })
    }

    func sql<T: DatabaseValueConvertible>(_ query: String, as type: T.Type = String.self) throws -> [T] {
        let queue = try DatabaseQueue(path: path)
        return try queue.read { try T.fetchAll($0, sql: query) }
    }

    func tamper(_ statement: String) throws {
        try DatabaseQueue(path: path).write { try $0.execute(sql: statement) }
    }

    func open() async throws -> CredentialVault {
        try await CredentialVault.open(SQLiteCredentialStore(path: path), with: .key(key), logger: logger)
    }

    @Test("the fixture is format 1 with version-1 values; unlocking upgrades every record and the header")
    func upgradesAtUnlock() async throws {
        #expect(try sql("SELECT format_version FROM vault_header", as: Int.self) == [1])
        #expect(try sql("SELECT hex(substr(client_secret, 1, 1)) FROM account") == ["01", "01", "01"])
        let generationsBefore = try sql("SELECT generation FROM account ORDER BY name", as: Int64.self)

        let vault = try await open()
        #expect(vault.formatVersion == 2)
        #expect(try sql("SELECT format_version FROM vault_header", as: Int.self) == [2])
        let versions = try sql(
            "SELECT hex(substr(client_secret, 1, 1)) || coalesce(hex(substr(refresh_token, 1, 1)), '') FROM account"
        )
        #expect(versions == ["02", "0202", "02"])
        #expect(
            try sql("SELECT generation FROM account ORDER BY name", as: Int64.self) == generationsBefore.map { $0 + 1 }
        )

        // Nothing was lost.
        let expected: [(AccountName, String, String?)] = [
            ("acme", "acme-secret", nil), ("bolt", "bolt-secret", "bolt-rt0"), ("shop", "shop-secret", nil),
        ]
        for (name, secret, refresh) in expected {
            let (account, secrets) = try await vault.openAccount(named: name)
            #expect(secrets.clientSecret?.string == secret)
            #expect(secrets.refreshToken?.string == refresh)
            #expect(account.clientID == "\(name)-public")
        }
        #expect(try await vault.verify().isEmpty)
        // A second unlock has nothing left to do.
        #expect(try await open().upgradeFormat() == 0)
    }

    @Test("after the upgrade an edited token URL is an integrity failure, and undoing the edit restores it")
    func protectedAfterUpgrade() async throws {
        _ = try await open()
        try tamper("UPDATE account SET token_url = 'http://127.0.0.1:1/steal' WHERE name = 'bolt'")
        let vault = try await open()
        await expectVaultError(.integrityFailure) { try await vault.openAccount(named: "bolt") }
        await expectVaultError(.integrityFailure) { try await vault.account(named: "bolt") }
        #expect(try await vault.verify().map(\.account) == ["bolt"])
        try tamper("UPDATE account SET token_url = 'https://account.sendcloud.com/oauth2/token' WHERE name = 'bolt'")
        #expect(try await vault.openAccount(named: "bolt").secrets.refreshToken?.string == "bolt-rt0")
    }

    @Test("a version-1 value planted into an upgraded vault is refused (no downgrade by replay)")
    func legacyValueRefusedAfterUpgrade() async throws {
        let legacy = try sql("SELECT hex(client_secret) FROM account WHERE name = 'acme'")[0]
        _ = try await open()
        try tamper("UPDATE account SET client_secret = X'\(legacy)' WHERE name = 'acme'")
        let vault = try await open()
        let error = await expectVaultError(.integrityFailure) { try await vault.openAccount(named: "acme") }
        #expect(error?.message.contains("format") == true)
        // Setting the header back to format 1 as well does not help: the other values are version 2 and bind the
        // metadata, and the planted one is re-upgraded only if it opens.
        try tamper("UPDATE vault_header SET format_version = 1")
        let downgraded = try await open()
        #expect(try await downgraded.openAccount(named: "acme").secrets.clientSecret?.string == "acme-secret")
        #expect(downgraded.formatVersion == 2)
    }

    @Test("a record that does not open keeps the header at format 1; the others are upgraded; verify says why")
    func partialUpgrade() async throws {
        try tamper("UPDATE account SET token_url = 'http://127.0.0.1:1/x' WHERE name = 'shop'")  // harmless in v1
        try tamper(
            "UPDATE account SET client_secret = (SELECT client_secret FROM account WHERE name = 'acme') "
                + "WHERE name = 'shop'"
        )
        let vault = try await open()
        #expect(vault.formatVersion == 1)
        #expect(try sql("SELECT format_version FROM vault_header", as: Int.self) == [1])
        #expect(try sql("SELECT hex(substr(client_secret, 1, 1)) FROM account ORDER BY name") == ["02", "02", "01"])
        let problems = try await vault.verify()
        #expect(problems.contains { $0.account == "shop" })
        #expect(problems.contains { $0.message.contains("format 1") })
        #expect(try await vault.openAccount(named: "bolt").secrets.refreshToken?.string == "bolt-rt0")
    }
}
