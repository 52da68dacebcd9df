import CredentialVault
import Foundation
import Logging
import Synchronization
import Testing

@testable import CredentialVaultSQLite

/// One lock per vault, whatever the path it is opened by (DESIGN §4 Locks).
@Suite("Locks keyed by the vault's identity")
struct LockIdentityTests {
    let dir: TempDir
    let path: String
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() async throws {
        dir = try TempDir()
        path = dir.file("vaults/vault.sqlite")
        _ = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: path, create: true),
            slots: [.key(KeyFileKey.generate())],
            logger: logger
        )
    }

    /// Whether `other` can take account `name`'s lock while `holder` holds it (a short wait).
    func lockIsShared(
        _ holder: SQLiteCredentialStore,
        _ other: SQLiteCredentialStore,
        _ name: AccountName = "acme"
    )
        async throws -> Bool
    {
        try await holder.withAccountLock(name, timeout: .seconds(5)) {
            do {
                try await other.withAccountLock(name, timeout: .milliseconds(150)) {}
                return false
            } catch let error as VaultError where error.code == .lockTimeout {
                return true
            }
        }
    }

    @Test("a symlink and a path with ./, // or .. reach the same lock")
    func otherPaths() async throws {
        let symlink = dir.file("link.sqlite")
        try FileManager.default.createSymbolicLink(atPath: symlink, withDestinationPath: path)
        let store = try SQLiteCredentialStore(path: path)
        for other in [
            symlink, dir.file("vaults/./vault.sqlite"), dir.path + "//vaults/vault.sqlite",
            dir.file("vaults/../vaults/vault.sqlite"),
        ] {
            let second = try SQLiteCredentialStore(path: other)
            #expect(second.lock.identity == store.lock.identity, "\(other)")
            #expect(try await lockIsShared(store, second), "\(other) got a second lock")
        }
    }

    @Test("a vault file with a second hard link is refused (78) by either name: SQLite's WAL goes by name")
    func hardLink() async throws {
        let hardLink = dir.file("vaults/second-name.sqlite")
        #expect(link(path, hardLink) == 0)
        for name in [path, hardLink] {
            let error = expectVaultError(.unsafePermissions) { try SQLiteCredentialStore(path: name) }
            #expect(error?.message.contains("hard link") == true)
        }
        unlink(hardLink)
        _ = try SQLiteCredentialStore(path: path)
    }

    @Test("two stores on one path exclude each other; other accounts are not blocked")
    func sameFile() async throws {
        let a = try SQLiteCredentialStore(path: path)
        let b = try SQLiteCredentialStore(path: path)
        #expect(try await lockIsShared(a, b))
        let independent = try await a.withAccountLock("acme", timeout: .seconds(5)) {
            try await b.withAccountLock("bolt", timeout: .milliseconds(500)) { true }
        }
        #expect(independent)
    }

    @Test("every-account lock: waits for an account holder, and keeps account lockers out while held")
    func everyAccountLock() async throws {
        let a = try SQLiteCredentialStore(path: path)
        let b = try SQLiteCredentialStore(path: path)
        let blocked = try await a.withAccountLock("acme", timeout: .seconds(5)) {
            do {
                try await b.withEveryAccountLock(timeout: .milliseconds(150)) {}
                return false
            } catch let error as VaultError where error.code == .lockTimeout { return true }
        }
        #expect(blocked)
        let keptOut = try await b.withEveryAccountLock(timeout: .seconds(5)) {
            var all = true
            for name: AccountName in ["acme", "bolt", "x", "z@shop.example"] {
                do {
                    try await a.withAccountLock(name, timeout: .milliseconds(100)) {}
                    all = false
                } catch let error as VaultError where error.code == .lockTimeout {}
            }
            return all
        }
        #expect(keptOut)
    }

    @Test("locking creates no file: there is no lock file that could be deleted or replaced while held")
    func noLockFiles() async throws {
        let folder = (path as NSString).deletingLastPathComponent
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
        let a = try SQLiteCredentialStore(path: path)
        let b = try SQLiteCredentialStore(path: path)
        let shared = try await a.withAccountLock("acme", timeout: .seconds(5)) {
            // Whatever is deleted beside the vault meanwhile, the second holder waits.
            for name in try FileManager.default.contentsOfDirectory(atPath: folder)
            where !name.hasPrefix("vault.sqlite") {
                try FileManager.default.removeItem(atPath: folder + "/" + name)
            }
            do {
                try await b.withAccountLock("acme", timeout: .milliseconds(150)) {}
                return false
            } catch let error as VaultError where error.code == .lockTimeout { return true }
        }
        #expect(shared)
        let after = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
        #expect(after.subtracting(before).allSatisfy { $0.hasPrefix("vault.sqlite-") }, "\(after)")
    }

    @Test("a vault file replaced at its path: a store that opened the old one refuses to lock, and verify says why")
    func replacedVaultFile() async throws {
        let store = try SQLiteCredentialStore(path: path)
        let copy = dir.file("vaults/copy.sqlite")
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        #expect(rename(copy, path) == 0)
        let error = await expectVaultError(.storage) {
            try await store.withAccountLock("acme", timeout: .seconds(1)) {}
        }
        #expect(error?.message.contains("replaced") == true)
        #expect(try await store.checkStorage().contains { $0.message.contains("replaced") })
    }

    // Release on throw and many tasks taking turns: the conformance suite (`locksAcrossTasks`) checks both.
}
