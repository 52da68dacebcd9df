import CredentialVault
import Foundation
import GRDB
import InMemoryLogging
import Logging
import Testing

@testable import CredentialVaultSQLite

@Suite("Vault on a real SQLite file")
struct VaultLifecycleTests {
    let dir: TempDir
    let path: String
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() throws {
        dir = try TempDir()
        path = dir.file("vaults/tenants/vault.sqlite")
    }

    func newVault(_ slots: [NewKeySlot]) async throws -> CredentialVault {
        try await CredentialVault.create(
            in: SQLiteCredentialStore(path: path, create: true),
            slots: slots,
            logger: logger
        )
    }

    func reopen(_ secret: UnlockSecret) async throws -> CredentialVault {
        try await CredentialVault.open(SQLiteCredentialStore(path: path), with: secret, logger: logger)
    }

    @Test("the file is created 0600 in 0700 directories")
    func permissionsOnCreate() async throws {
        _ = try await newVault([.key(KeyFileKey.generate())])
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        for directory in [dir.file("vaults"), dir.file("vaults/tenants")] {
            let mode = try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int
            #expect(mode == 0o700, "\(directory)")
        }
    }

    @Test("the file is in WAL mode and the connection commits with synchronous=FULL")
    func durabilitySettings() async throws {
        _ = try await newVault([.key(KeyFileKey.generate())])
        let store = try SQLiteCredentialStore(path: path)
        #expect(try store.journalMode() == "wal")
        #expect(try store.synchronousSetting() == 2)
    }

    @Test("a vault readable or writable by group or others is refused", arguments: [0o644, 0o640, 0o604, 0o620, 0o602])
    func unsafePermissions(mode: Int) async throws {
        _ = try await newVault([.key(KeyFileKey.generate())])
        chmod(path, mode_t(mode))
        let error = expectVaultError(.unsafePermissions) { try SQLiteCredentialStore(path: path) }
        #expect(error?.message.contains("chmod 600") == true)
    }

    @Test("no file, or a file without a vault → noVault; a file that is not SQLite → integrity failure")
    func missingAndForeignFiles() async throws {
        expectVaultError(.noVault) { try SQLiteCredentialStore(path: dir.file("absent.sqlite")) }
        let empty = dir.file("empty.sqlite")
        #expect(FileManager.default.createFile(atPath: empty, contents: Data(), attributes: [.posixPermissions: 0o600]))
        expectVaultError(.noVault) { try SQLiteCredentialStore(path: empty) }
        let garbage = dir.file("garbage.sqlite")
        #expect(
            FileManager.default.createFile(
                atPath: garbage,
                contents: Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31) }),
                attributes: [.posixPermissions: 0o600]
            )
        )
        expectVaultError(.integrityFailure) { try SQLiteCredentialStore(path: garbage) }
    }

    @Test("creating twice fails with vaultExists and leaves the first vault intact")
    func createTwice() async throws {
        let key = KeyFileKey.generate()
        let vault = try await newVault([.key(key)])
        try await vault.addAccount(
            sampleAccount("acme"),
            secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "s1"))
        )
        await expectVaultError(.vaultExists) { try await newVault([.key(KeyFileKey.generate())]) }
        #expect(try await reopen(.key(key)).openAccount(named: "acme").secrets.clientSecret?.string == "s1")
    }

    @Test("every mode and field round-trips through the file", arguments: AccountMode.allCases)
    func roundTrip(mode: AccountMode) async throws {
        let key = KeyFileKey.generate()
        let vault = try await newVault([.key(key)])
        let expires = Date(timeIntervalSince1970: 1_900_000_000.5)
        var account = sampleAccount("tenant-1", mode)
        account.accessTokenExpiresAt = expires
        let secrets = AccountSecrets(
            clientSecret: SecureBytes(utf8: "cs-\(mode)"),
            refreshToken: mode == .refreshToken ? SecureBytes(utf8: "rt-\(mode)") : nil,
            accessToken: mode == .basic ? nil : SecureBytes(utf8: "at-\(mode)")
        )
        let added = try await vault.addAccount(account, secrets: secrets)
        #expect(added.generation == 1)

        let (stored, opened) = try await reopen(.key(key)).openAccount(named: "tenant-1")
        #expect(stored.mode == mode)
        #expect(stored.clientID == "client-tenant-1")
        #expect(stored.scopes == "api")
        #expect(stored.accessTokenExpiresAt == expires)
        #expect(stored.status == .ok)
        for field in SecretField.allCases {
            #expect(opened[field] == secrets[field], "\(field)")
            #expect(stored.storedFields.contains(field) == (secrets[field] != nil))
        }
    }

    @Test("wrong passphrase or wrong key → wrongKey, and the vault file's bytes stay the same")
    func wrongSecretsWriteNothing() async throws {
        let key = KeyFileKey.generate()
        let store = try SQLiteCredentialStore(path: path, create: true)
        let vault = try await CredentialVault.create(
            in: store,
            slots: [.passphrase(SecureBytes(utf8: "right passphrase"), fastKDF), .key(key)],
            logger: logger
        )
        try await vault.addAccount(sampleAccount("acme"), secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "s")))
        try store.close()
        let before = try #require(fileBytes(path))
        await expectVaultError(.wrongKey) { try await reopen(.passphrase(SecureBytes(utf8: "wrong passphrase"))) }
        await expectVaultError(.wrongKey) { try await reopen(.key(KeyFileKey.generate())) }
        #expect(fileBytes(path) == before)
        _ = try await reopen(.passphrase(SecureBytes(utf8: "right passphrase")))
        _ = try await reopen(.key(key))
    }

    @Test("neither the vault file nor its WAL contains a secret in clear")
    func noPlaintextOnDisk() async throws {
        let key = KeyFileKey.generate()
        let vault = try await newVault([.key(key), .passphrase(SecureBytes(utf8: "passphrase-XYZZY-1234"), fastKDF)])
        let secrets = (0..<20).map { "SECRET-\($0)-\(UUID().uuidString)" }
        for i in 0..<5 {
            try await vault.addAccount(
                sampleAccount(try AccountName("tenant-\(i)")),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: secrets[i * 4]),
                    refreshToken: SecureBytes(utf8: secrets[i * 4 + 1]),
                    accessToken: SecureBytes(utf8: secrets[i * 4 + 2])
                )
            )
        }
        try await vault.changePassphrase(to: SecureBytes(utf8: secrets[3]), limits: fastKDF)
        // The store is still open: the WAL holds the recent transactions.
        let files = [path, path + "-wal"].compactMap(fileBytes)
        #expect(files.count == 2)
        #expect(files[1].count > 0)
        let keyText = key.base64Text().string.trimmingCharacters(in: .newlines)
        for data in files {
            for secret in secrets + ["passphrase-XYZZY-1234", keyText] {
                #expect(!contains(data, secret))
            }
        }
    }

    @Test("key rotation reseals every account; other slots must be dropped explicitly")
    func rotation() async throws {
        let key = KeyFileKey.generate()
        let vault = try await newVault([.key(key), .passphrase(SecureBytes(utf8: "pw"), fastKDF)])
        for i in 0..<10 {
            try await vault.addAccount(
                sampleAccount(try AccountName("t\(i)")),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: "cs\(i)"),
                    refreshToken: SecureBytes(utf8: "rt\(i)")
                )
            )
        }
        await expectVaultError(.invalidInput) { try await vault.rotateDataKey(dropOtherSlots: false) }
        try await vault.rotateDataKey(dropOtherSlots: true)
        let slots = try await vault.slots()
        #expect(slots.count == 1)
        #expect(slots.allSatisfy { $0.keyID == 2 })
        #expect(try await vault.verify().isSound)

        let reopened = try await reopen(.key(key))
        for i in 0..<10 {
            let (account, secrets) = try await reopened.openAccount(named: try AccountName("t\(i)"))
            #expect(secrets.clientSecret?.string == "cs\(i)")
            #expect(secrets.refreshToken?.string == "rt\(i)")
            #expect(account.generation == 2)
        }
        await expectVaultError(.wrongKey) { try await reopen(.passphrase(SecureBytes(utf8: "pw"))) }
        // The vault still accepts writes and new slots after rotation.
        try await reopened.addSlot(.passphrase(SecureBytes(utf8: "pw2"), fastKDF))
        try await reopened.addAccount(
            sampleAccount("after"),
            secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "x"))
        )
        #expect(
            try await reopen(.passphrase(SecureBytes(utf8: "pw2"))).openAccount(named: "after").secrets.clientSecret?
                .string == "x"
        )
    }

    @Test(
        "a vault instance opened before another process rotated the key loads the new key and never writes under the old one"
    )
    func instanceOpenedBeforeRotation() async throws {
        let key = KeyFileKey.generate()
        let first = try await newVault([.key(key)])
        try await first.addAccount(sampleAccount("acme"), secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "s")))
        let stale = try await first.account(named: "acme")
        let second = try await reopen(.key(key))
        try await second.rotateDataKey(dropOtherSlots: false)

        // Reads reload the key (the rotating process kept the same key-file slot).
        #expect(try await first.openAccount(named: "acme").secrets.clientSecret?.string == "s")
        // A write based on a pre-rotation read loses its compare-and-swap (the rotation bumped the generation)...
        await expectVaultError(.conflict) {
            try await first.updateAccount(
                stale,
                secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "t")),
                expectedGeneration: stale.generation
            )
        }
        // ...and succeeds once re-read; new accounts are sealed under the new key.
        let fresh = try await first.account(named: "acme")
        try await first.updateAccount(
            fresh,
            secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "t")),
            expectedGeneration: fresh.generation
        )
        try await first.addAccount(sampleAccount("new"), secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "n")))
        let check = try await reopen(.key(key))
        #expect(try await check.verify().isSound)
        #expect(try await check.openAccount(named: "acme").secrets.clientSecret?.string == "t")
        #expect(try await check.openAccount(named: "new").secrets.clientSecret?.string == "n")
    }

    @Test("an instance whose slot was dropped by another process's rotation must unlock again (wrongKey)")
    func instanceWhoseSlotWasDropped() async throws {
        let key = KeyFileKey.generate()
        let first = try await newVault([.key(key), .passphrase(SecureBytes(utf8: "pw"), fastKDF)])
        try await first.addAccount(sampleAccount("acme"), secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "s")))
        try await reopen(.passphrase(SecureBytes(utf8: "pw"))).rotateDataKey(dropOtherSlots: true)
        await expectVaultError(.wrongKey) { try await first.openAccount(named: "acme") }
        await expectVaultError(.wrongKey) { try await reopen(.key(key)) }
    }

    @Test("slot changes made with a pre-rotation key are refused, and the last working slot cannot be removed")
    func staleSlotChanges() async throws {
        let key = KeyFileKey.generate()
        let first = try await newVault([.key(key), .passphrase(SecureBytes(utf8: "pw"), fastKDF)])
        let second = try await reopen(.key(key))
        try await second.rotateDataKey(dropOtherSlots: true)  // the passphrase slot is gone; the key slot wraps key 2
        // `first` still holds key 1 in memory until it reloads: its slot changes must not land.
        let slotsBefore = try await second.slots()
        await expectVaultError(.invalidInput) { try await second.removeSlot(id: slotsBefore[0].id) }
        let store = try SQLiteCredentialStore(path: path)
        let staleSlot = KeySlot(
            id: 0,
            kind: .keyFile,
            keyID: 1,
            wrappedKey: slotsBefore[0].wrappedKey,
            createdAt: Date()
        )
        await expectVaultError(.conflict) { try await store.addSlot(staleSlot) }
        await expectVaultError(.conflict) { try await store.replaceSlot(staleSlot, expecting: slotsBefore[0]) }
        #expect(try await store.slots() == slotsBefore)
        _ = first
        _ = try await reopen(.key(key))
    }

    @Test("passphrase change: the old passphrase fails, the new one opens every account")
    func passphraseChange() async throws {
        let vault = try await newVault([.passphrase(SecureBytes(utf8: "old-pass"), fastKDF)])
        try await vault.addAccount(sampleAccount("acme"), secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "s")))
        try await vault.changePassphrase(to: SecureBytes(utf8: "new-pass"), limits: fastKDF)
        await expectVaultError(.wrongKey) { try await reopen(.passphrase(SecureBytes(utf8: "old-pass"))) }
        let reopened = try await reopen(.passphrase(SecureBytes(utf8: "new-pass")))
        #expect(try await reopened.openAccount(named: "acme").secrets.clientSecret?.string == "s")
        // Changing it again from the reopened vault works too (the unlocked slot is tracked).
        try await reopened.changePassphrase(to: SecureBytes(utf8: "third"), limits: fastKDF)
        _ = try await reopen(.passphrase(SecureBytes(utf8: "third")))
    }

    @Test("slots: add, remove, never the last one")
    func slotManagement() async throws {
        let key = KeyFileKey.generate()
        let vault = try await newVault([.key(key)])
        let second = KeyFileKey.generate()
        let added = try await vault.addSlot(.key(second))
        _ = try await reopen(.key(second))
        try await vault.removeSlot(id: added.id)
        await expectVaultError(.wrongKey) { try await reopen(.key(second)) }
        let only = try #require(try await vault.slots().first)
        await expectVaultError(.invalidInput) { try await vault.removeSlot(id: only.id) }
        await expectVaultError(.notFound) { try await vault.removeSlot(id: 999) }
        _ = try await reopen(.key(key))
    }

    @Test("writes are compare-and-swap on the generation")
    func compareAndSwap() async throws {
        let vault = try await newVault([.key(KeyFileKey.generate())])
        let account = try await vault.addAccount(
            sampleAccount("acme"),
            secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "s"))
        )
        let next = try await vault.updateAccount(
            account,
            secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "s"), refreshToken: SecureBytes(utf8: "r2")),
            expectedGeneration: 1
        )
        #expect(next.generation == 2)
        await expectVaultError(.conflict) {
            try await vault.updateAccount(
                account,
                secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "stale")),
                expectedGeneration: 1
            )
        }
        #expect(try await vault.openAccount(named: "acme").secrets.refreshToken?.string == "r2")
        await expectVaultError(.alreadyExists) {
            try await vault.addAccount(
                sampleAccount("acme"),
                secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "x"))
            )
        }
        try await vault.removeAccount(named: "acme")
        await expectVaultError(.notFound) { try await vault.removeAccount(named: "acme") }
        await expectVaultError(.notFound) { try await vault.account(named: "acme") }
        await expectVaultError(.notFound) {
            try await vault.updateAccount(
                next,
                secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "x")),
                expectedGeneration: 2
            )
        }
    }
}
