import CredentialVault
import CredentialVaultSQLite
import Foundation
import GRDB
import InMemoryLogging
import Logging
import Testing

@Suite("Tampering with the vault file")
struct TamperTests {
    let dir: TempDir
    let path: String
    let key = KeyFileKey.generate()
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws {
        dir = try TempDir()
        path = dir.file("vault.sqlite")
    }

    /// A vault with accounts `a` and `b`, each with all three secrets.
    func makeVault(at path: String? = nil, slots: [NewKeySlot]? = nil) async throws -> CredentialVault {
        let vault = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: path ?? self.path, create: true),
            slots: slots ?? [.key(key)],
            logger: logger
        )
        for name: AccountName in ["a", "b"] {
            try await vault.addAccount(
                sampleAccount(name),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: "cs-\(name)"),
                    refreshToken: SecureBytes(utf8: "rt-\(name)"),
                    accessToken: SecureBytes(utf8: "at-\(name)")
                )
            )
        }
        return vault
    }

    /// Runs SQL on the file directly, as an attacker with write access would.
    func tamper(_ sql: String, file: String? = nil) throws {
        let queue = try DatabaseQueue(path: file ?? path)
        try queue.write { try $0.execute(sql: sql) }
    }

    func reopen() async throws -> CredentialVault {
        try await CredentialVault.open(SQLiteCredentialStore(path: path), with: .key(key), logger: logger)
    }

    @Test(
        "a sealed value moved to another account or field fails with an integrity error",
        arguments: [
            "UPDATE account SET client_secret = (SELECT client_secret FROM account WHERE name = 'b') WHERE name = 'a'",
            "UPDATE account SET refresh_token = (SELECT refresh_token FROM account WHERE name = 'b') WHERE name = 'a'",
            "UPDATE account SET access_token = refresh_token WHERE name = 'a'",
            "UPDATE account SET client_secret = access_token WHERE name = 'a'",
        ]
    )
    func movedValues(sql: String) async throws {
        _ = try await makeVault()
        try tamper(sql)
        let vault = try await reopen()
        let error = await expectVaultError(.integrityFailure) { try await vault.openAccount(named: "a") }
        #expect(error?.message.contains("'a'") == true)
        #expect(try await vault.openAccount(named: "b").secrets.clientSecret?.string == "cs-b")
        let problems = try await vault.verify().problems
        #expect(problems.count == 1)
        #expect(problems.first?.account == "a")
    }

    @Test("renaming a row does not carry its secrets to the new name")
    func renamedRow() async throws {
        _ = try await makeVault()
        try tamper("UPDATE account SET name = 'c' WHERE name = 'a'")
        let vault = try await reopen()
        await expectVaultError(.integrityFailure) { try await vault.openAccount(named: "c") }
    }

    @Test("a sealed value copied from another vault fails with an integrity error")
    func crossVault() async throws {
        _ = try await makeVault()
        let otherPath = dir.file("other.sqlite")
        // Same key material in both vaults: only the vault id in the associated data differs.
        _ = try await makeVault(at: otherPath, slots: [.key(key)])
        try tamper(
            "ATTACH DATABASE '\(otherPath)' AS other; UPDATE account SET client_secret = (SELECT client_secret FROM other.account WHERE name = 'a') WHERE name = 'a'"
        )
        await expectVaultError(.integrityFailure) { try await reopen().openAccount(named: "a") }
    }

    /// Flips bit 0 of byte `offset` in one blob column of one row, in place.
    func flip(_ table: String, _ column: String, key: String, _ value: String, offset: Int) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            var blob = try #require(
                try Data.fetchOne(db, sql: "SELECT \(column) FROM \(table) WHERE \(key) = ?", arguments: [value])
            )
            blob[blob.startIndex + offset] ^= 1
            try db.execute(sql: "UPDATE \(table) SET \(column) = ? WHERE \(key) = ?", arguments: [blob, value])
        }
    }

    @Test(
        "flipping a byte inside a stored blob is caught",
        arguments: ["client_secret", "refresh_token", "access_token"]
    )
    func flippedBlobByte(column: String) async throws {
        _ = try await makeVault()
        for (offset, name) in [(0, "a"), (10, "b")] {
            try flip("account", column, key: "name", name, offset: offset)
        }
        await expectVaultError(.integrityFailure) { try await reopen().openAccount(named: "a") }
        await expectVaultError(.integrityFailure) { try await reopen().openAccount(named: "b") }
        #expect(try await reopen().verify().problems.count == 2)
    }

    @Test("a key slot whose KDF limits were raised is refused before hashing")
    func slotLimitsTampered() async throws {
        _ = try await makeVault(slots: [.passphrase(SecureBytes(utf8: "pw"), fastKDF)])
        try tamper("UPDATE key_slot SET mem_limit = \(Int64(64) << 30)")
        await expectVaultError(.integrityFailure) {
            try await CredentialVault.open(
                SQLiteCredentialStore(path: path),
                with: .passphrase(SecureBytes(utf8: "pw")),
                logger: logger
            )
        }
        try tamper("UPDATE key_slot SET mem_limit = 8192, ops_limit = -1")
        await expectVaultError(.integrityFailure) {
            try await CredentialVault.open(
                SQLiteCredentialStore(path: path),
                with: .passphrase(SecureBytes(utf8: "pw")),
                logger: logger
            )
        }
    }

    @Test("a damaged slot is skipped at unlock when another slot of the same kind opens")
    func damagedSlotSkipped() async throws {
        let other = KeyFileKey.generate()
        let vault = try await makeVault()
        try await vault.addSlot(.key(other))
        try await vault.addSlot(.passphrase(SecureBytes(utf8: "pw"), fastKDF))
        try await vault.addSlot(.passphrase(SecureBytes(utf8: "pw2"), fastKDF))
        // The first key-file slot gets a malformed wrap, the first passphrase slot impossible limits.
        try tamper(
            "UPDATE key_slot SET wrapped_key = X'00' WHERE id = (SELECT MIN(id) FROM key_slot WHERE kind = 'key-file')"
        )
        try tamper(
            "UPDATE key_slot SET mem_limit = 1 WHERE id = (SELECT MIN(id) FROM key_slot WHERE kind = 'passphrase')"
        )
        _ = try await CredentialVault.open(SQLiteCredentialStore(path: path), with: .key(other), logger: logger)
        _ = try await CredentialVault.open(
            SQLiteCredentialStore(path: path),
            with: .passphrase(SecureBytes(utf8: "pw2")),
            logger: logger
        )
        // The secret of the damaged slot alone: the damage is reported, not a wrong key.
        await expectVaultError(.integrityFailure) { try await reopen() }
    }

    @Test("a tampered wrapped key does not open (reported as a wrong key, the secret cannot be told apart)")
    func slotWrappedKeyTampered() async throws {
        _ = try await makeVault()
        try flip("key_slot", "wrapped_key", key: "kind", "key-file", offset: 40)
        await expectVaultError(.wrongKey) { try await reopen() }
    }

    @Test(
        "values of the wrong type or out of range in any column are integrity errors, never a crash",
        arguments: [
            "UPDATE account SET generation = 'x' WHERE name = 'a'",
            "UPDATE account SET key_id = X'00' WHERE name = 'a'",
            "UPDATE account SET created_at = 'yesterday' WHERE name = 'a'",
            "UPDATE account SET access_token_expires_at = 1e300 WHERE name = 'a'",
            "UPDATE account SET refreshed_at = -5 WHERE name = 'a'",
            "UPDATE account SET mode = X'FFFE' WHERE name = 'a'",
            "UPDATE account SET client_id = 42, token_url = X'FF' WHERE name = 'a'",
            "UPDATE account SET name = CAST(X'C3' AS TEXT) WHERE name = 'a'",
            // (A name that is a blob makes the row no account at all: nameNotText.)
        ]
    )
    func typeConfusion(sql: String) async throws {
        _ = try await makeVault()
        try tamper(sql)
        let vault = try await reopen()
        await expectVaultError(.integrityFailure) { try await vault.accounts() }
        // The intact account still opens by name.
        #expect(try await vault.openAccount(named: "b").secrets.clientSecret?.string == "cs-b")
        #expect(try await vault.verify().isSound == false)
    }

    @Test("key slot and header columns of the wrong type are refused without a crash")
    func slotTypeConfusion() async throws {
        _ = try await makeVault()
        try tamper("UPDATE key_slot SET key_id = 'one', wrapped_key = 7")
        await expectVaultError(.integrityFailure) { try await reopen() }
        try tamper("UPDATE vault_header SET key_id = X'01'")
        await expectVaultError(.integrityFailure) { try await reopen() }
    }

    @Test("a malformed record row is an integrity error")
    func malformedRow() async throws {
        _ = try await makeVault()
        try tamper("UPDATE account SET mode = 'bogus' WHERE name = 'a'")
        await expectVaultError(.integrityFailure) { try await reopen().account(named: "a") }
    }

    /// Text planted in the file that a lenient decoder would read as something else: a NUL byte (C-string decoding
    /// stops there) or bytes that are not UTF-8 (lenient decoding replaces them).
    static let undecodableText = [
        "UPDATE account SET token_url = CAST(X'68747470733a2f2f6c65676974006a756e6b' AS TEXT) WHERE name = 'a'",
        "UPDATE account SET client_id = CAST(X'636c69656e74ff' AS TEXT) WHERE name = 'a'",
        "UPDATE account SET status = CAST(X'6f6b0078' AS TEXT) WHERE name = 'a'",
    ]

    @Test(
        "a text column holding a NUL byte or invalid UTF-8: that account is an integrity error, not a repaired value",
        arguments: undecodableText
    )
    func undecodableTextColumn(sql: String) async throws {
        _ = try await makeVault()
        try tamper(sql)
        let vault = try await reopen()
        let error = await expectVaultError(.integrityFailure) { try await vault.openAccount(named: "a") }
        #expect(error?.message.contains("'a'") == true, "\(String(describing: error))")
        #expect(try await vault.openAccount(named: "b").secrets.clientSecret?.string == "cs-b")
        await expectVaultError(.integrityFailure) { try await vault.accounts(after: nil, limit: 10) }
        let report = try await vault.verify()
        #expect(report.accountCount == 2)
        #expect(report.problems.count == 1, "\(report.problems.map(\.message))")
        #expect(report.problems.first?.message.contains("'a'") == true, "\(report.problems.map(\.message))")
    }

    @Test("a name with a NUL byte is not read back as the name before it: no account is listed twice or skipped")
    func nameWithNUL() async throws {
        _ = try await makeVault()
        // 'a' followed by NUL and 'x': a C-string decoder reads 'a', so 'name > a' would return this row again.
        try tamper("UPDATE account SET name = CAST(X'610078' AS TEXT) WHERE name = 'a'")
        let vault = try await reopen()
        let error = await expectVaultError(.integrityFailure) { try await vault.accounts(after: nil, limit: 10) }
        #expect(error?.message == "an account row has a name that is not text", "\(String(describing: error))")
        await expectVaultError(.notFound) { try await vault.openAccount(named: "a") }
        let report = try await vault.verify()
        #expect(report.accountCount == 2)
        #expect(report.problems.map(\.message) == ["an account row has a name that is not text"])
        #expect(try await vault.openAccount(named: "b").secrets.clientSecret?.string == "cs-b")
    }

    @Test("a row whose name is not a string ending a full page: read once, at the head of the next page")
    func undecodableNameAtPageEnd() async throws {
        let vault = try await makeVault()
        try await vault.addAccount(sampleAccount("c"), secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "x")))
        try tamper("UPDATE account SET name = CAST(X'620078' AS TEXT) WHERE name = 'b'")  // 'b', NUL, 'x'
        let store = try SQLiteCredentialStore(path: path)
        var names: [String] = []
        var failures = 0
        var pages = 0
        var after: String?
        repeat {
            let page = try await store.accountRecordPage(after: after, limit: 2)
            for record in page.records {
                switch record {
                case .success(let account): names.append(account.account.name.rawValue)
                case .failure: failures += 1
                }
            }
            after = page.next
            pages += 1
        } while after != nil && pages < 10
        #expect(names == ["a", "c"])
        #expect(failures == 1)
        #expect(pages == 3)
    }

    @Test("a row whose name is not text is in no page of accounts, and verify reports it")
    func nameNotText() async throws {
        let vault = try await makeVault()
        for name: AccountName in ["c", "d"] {
            try await vault.addAccount(
                sampleAccount(name),
                secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "x"))
            )
        }
        // The column's TEXT affinity turns a number into text; a blob stays a blob, and sorts after every text.
        try tamper(
            "UPDATE account SET name = CAST('a' AS BLOB) WHERE name = 'a'; "
                + "UPDATE account SET name = CAST('c' AS BLOB) WHERE name = 'c'"
        )
        let reopened = try await reopen()
        var names: [String] = []
        var after: AccountName?
        repeat {
            let page = try await reopened.accounts(after: after, limit: 1)
            names += page.map(\.name.rawValue)
            after = page.count == 1 ? page.last?.name : nil
        } while after != nil
        #expect(names == ["b", "d"])
        let report = try await reopened.verify()
        #expect(report.accountCount == 2)
        #expect(
            report.problems.map(\.message).contains { $0.contains("2 account row(s) have a name that is not text") }
        )
    }
}

@Suite("Secrets stay out of logs and descriptions")
struct SecretLeakTests {
    @Test("logs of a whole lifecycle contain no secret")
    func logs() async throws {
        let dir = try TempDir()
        let path = dir.file("vault.sqlite")
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in handler }
        logger.logLevel = .trace
        let secrets = ["cs-LEAKCHECK-1", "rt-LEAKCHECK-2", "at-LEAKCHECK-3", "pass-LEAKCHECK-4", "pass-LEAKCHECK-5"]
        let vault = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: path, create: true),
            slots: [.passphrase(SecureBytes(utf8: secrets[3]), fastKDF)],
            logger: logger
        )
        let account = try await vault.addAccount(
            sampleAccount("acme"),
            secrets: AccountSecrets(
                clientSecret: SecureBytes(utf8: secrets[0]),
                refreshToken: SecureBytes(utf8: secrets[1]),
                accessToken: SecureBytes(utf8: secrets[2])
            )
        )
        try await vault.updateAccount(
            account,
            secrets: try await vault.openAccount(named: "acme").secrets,
            expectedGeneration: 1
        )
        try await vault.changePassphrase(to: SecureBytes(utf8: secrets[4]), limits: fastKDF)
        try await vault.rotateDataKey(dropOtherSlots: true)
        _ = try? await CredentialVault.open(
            SQLiteCredentialStore(path: path),
            with: .passphrase(SecureBytes(utf8: secrets[3])),
            logger: logger
        )
        _ = try await CredentialVault.open(
            SQLiteCredentialStore(path: path),
            with: .passphrase(SecureBytes(utf8: secrets[4])),
            logger: logger
        )
        try await vault.removeAccount(named: "acme")

        let entries = handler.entries
        #expect(entries.count >= 6)
        let text = entries.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
        #expect(text.contains("acme"))
        for secret in secrets {
            #expect(!text.contains(secret))
        }
    }

    @Test("errors and models describe themselves without secrets")
    func descriptions() async throws {
        let dir = try TempDir()
        let path = dir.file("vault.sqlite")
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let key = KeyFileKey.generate()
        let vault = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: path, create: true),
            slots: [.key(key)],
            logger: logger
        )
        let secret = "cs-DESCRIBE-ME-NOT"
        try await vault.addAccount(
            sampleAccount("acme"),
            secrets: AccountSecrets(clientSecret: SecureBytes(utf8: secret))
        )
        let opened = try await vault.openAccount(named: "acme")
        let stored = try #require(try await vault.store.account(named: "acme"))
        var described = [
            String(describing: opened.account), String(describing: opened.secrets), String(reflecting: opened.secrets),
            String(describing: stored), String(describing: key),
        ]
        var dumped = ""
        dump(opened.secrets, to: &dumped)
        described.append(dumped)
        var errors: [any Error] = []
        do {
            _ = try await CredentialVault.open(
                SQLiteCredentialStore(path: path),
                with: .passphrase(SecureBytes(utf8: secret)),
                logger: logger
            )
        } catch { errors.append(error) }
        do { _ = try KeyFileKey(base64Text: SecureBytes(utf8: secret)) } catch { errors.append(error) }
        do { _ = try AccountName(secret + " !") } catch { errors.append(error) }
        #expect(errors.count == 3)
        described += errors.map { String(describing: $0) } + errors.map { String(reflecting: $0) }
        let keyText = key.base64Text().string.trimmingCharacters(in: .newlines)
        for text in described {
            #expect(!text.contains(secret))
            #expect(!text.contains(keyText))
        }
    }
}
