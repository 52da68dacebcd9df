import CredentialVault
import Foundation
import GRDB
import Logging
import Testing

@testable import CredentialVaultSQLite

/// A vault written by format 1 (committed under Fixtures/format-1, made by the CLI before metadata authentication)
/// opens, is not used until it is upgraded in place on request, and is protected afterwards.
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

    @Test("a format-1 vault opens without changing a stored value; its records are not used until the upgrade")
    func notUsedBeforeUpgrade() async throws {
        #expect(try sql("SELECT format_version FROM vault_header", as: Int.self) == [1])
        #expect(try sql("SELECT hex(substr(client_secret, 1, 1)) FROM account") == ["01", "01", "01"])
        // Every stored value, as SQLite quotes it: the header, the slots and the records.
        let everything = """
            SELECT quote(vault_id) || format_version || key_id || created_at FROM vault_header
            UNION ALL SELECT quote(kind) || quote(salt) || quote(ops_limit) || quote(mem_limit) || key_id
                || quote(wrapped_key) || created_at FROM key_slot
            UNION ALL SELECT quote(name) || quote(mode) || quote(client_id) || quote(scopes) || quote(token_url)
                || key_id || quote(client_secret) || quote(refresh_token) || quote(access_token)
                || quote(access_token_expires_at) || quote(status) || quote(last_error) || generation || created_at
                || updated_at || quote(refreshed_at) FROM account
            """
        let before = try sql(everything)
        #expect(before.count == 1 + 1 + 3)
        let vault = try await open()
        #expect(try await vault.formatVersion() == 1)
        for name: AccountName in ["acme", "bolt", "shop"] {
            let error = await expectVaultError(.integrityFailure) { try await vault.openAccount(named: name) }
            #expect(error?.message.contains("verify --upgrade") == true)
            await expectVaultError(.integrityFailure) { try await vault.account(named: name) }
        }
        let problems = try await vault.verify().problems
        #expect(Set(problems.compactMap(\.account)) == ["acme", "bolt", "shop"])
        #expect(problems.contains { $0.message.contains("format 1") })
        #expect(try sql(everything) == before)
    }

    @Test("upgradeFormat reseals every record (generation + 1) and the header; nothing is lost")
    func upgrade() async throws {
        let generationsBefore = try sql("SELECT generation FROM account ORDER BY name", as: Int64.self)
        let vault = try await open()
        let upgraded = try await vault.upgradeFormat()
        #expect(upgraded.map(\.name) == ["acme", "bolt", "shop"])
        #expect(upgraded.map(\.tokenURL) == Array(repeating: "https://account.sendcloud.com/oauth2/token", count: 3))
        #expect(try await vault.formatVersion() == 2)
        #expect(try sql("SELECT format_version FROM vault_header", as: Int.self) == [2])
        let versions = try sql(
            "SELECT hex(substr(client_secret, 1, 1)) || coalesce(hex(substr(refresh_token, 1, 1)), '') FROM account"
        )
        #expect(versions == ["02", "0202", "02"])
        #expect(
            try sql("SELECT generation FROM account ORDER BY name", as: Int64.self) == generationsBefore.map { $0 + 1 }
        )
        let expected: [(AccountName, String, String?)] = [
            ("acme", "acme-secret", nil), ("bolt", "bolt-secret", "bolt-rt0"), ("shop", "shop-secret", nil),
        ]
        for (name, secret, refresh) in expected {
            let (account, secrets) = try await vault.openAccount(named: name)
            #expect(secrets.clientSecret?.string == secret)
            #expect(secrets.refreshToken?.string == refresh)
            #expect(account.clientID == "\(name)-public")
        }
        #expect(try await vault.verify().isSound)
        #expect(try await open().upgradeFormat().isEmpty)  // nothing left to do
    }

    @Test("after the upgrade an edited token URL is an integrity failure, and undoing the edit restores it")
    func protectedAfterUpgrade() async throws {
        try await open().upgradeFormat()
        try tamper("UPDATE account SET token_url = 'http://127.0.0.1:1/steal' WHERE name = 'bolt'")
        let vault = try await open()
        await expectVaultError(.integrityFailure) { try await vault.openAccount(named: "bolt") }
        await expectVaultError(.integrityFailure) { try await vault.account(named: "bolt") }
        #expect(try await vault.verify().problems.map(\.account) == ["bolt"])
        try tamper("UPDATE account SET token_url = 'https://account.sendcloud.com/oauth2/token' WHERE name = 'bolt'")
        #expect(try await vault.openAccount(named: "bolt").secrets.refreshToken?.string == "bolt-rt0")
    }

    @Test("an old copy's values planted with the header set back to format 1 and a new token URL are never used")
    func downgradeWithOldCopy() async throws {
        let old = try sql("SELECT hex(client_secret) || ',' || hex(refresh_token) FROM account WHERE name = 'bolt'")[0]
            .split(separator: ",")
        try await open().upgradeFormat()
        try tamper(
            "UPDATE vault_header SET format_version = 1; UPDATE account SET client_secret = X'\(old[0])', "
                + "refresh_token = X'\(old[1])', access_token = NULL, generation = 1, "
                + "token_url = 'http://127.0.0.1:1/steal' WHERE name = 'bolt'"
        )
        let vault = try await open()
        let error = await expectVaultError(.integrityFailure) { try await vault.openAccount(named: "bolt") }
        #expect(error?.message.contains("format 1") == true)
        // Opening blessed nothing: the record is still format 1, and verify says so.
        #expect(try sql("SELECT hex(substr(client_secret, 1, 1)) FROM account WHERE name = 'bolt'") == ["01"])
        #expect(try await vault.verify().problems.contains { $0.account == "bolt" && $0.message.contains("format 1") })
        #expect(try await vault.openAccount(named: "acme").secrets.clientSecret?.string == "acme-secret")
    }

    @Test("a record that does not open keeps the header at format 1; the others are upgraded; verify says why")
    func partialUpgrade() async throws {
        try tamper(
            "UPDATE account SET client_secret = (SELECT client_secret FROM account WHERE name = 'acme') "
                + "WHERE name = 'shop'"
        )
        let vault = try await open()
        #expect(try await vault.upgradeFormat().map(\.name) == ["acme", "bolt"])
        #expect(try await vault.formatVersion() == 1)
        #expect(try sql("SELECT hex(substr(client_secret, 1, 1)) FROM account ORDER BY name") == ["02", "02", "01"])
        let problems = try await vault.verify().problems
        #expect(problems.contains { $0.account == "shop" })
        #expect(problems.contains { $0.message.contains("format 1") })
        #expect(try await vault.openAccount(named: "bolt").secrets.refreshToken?.string == "bolt-rt0")
    }
}
