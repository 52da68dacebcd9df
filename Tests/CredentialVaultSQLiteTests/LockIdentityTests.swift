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
            #expect(second.lockFile == store.lockFile, "\(other)")
            #expect(try await lockIsShared(store, second), "\(other) got a second lock")
        }
    }

    @Test("a vault file with a second hard link is refused (78) by either name: SQLite's WAL goes by name")
    func hardLink() async throws {
        let hardLink = dir.file("vaults/second-name.sqlite")
        #expect(link(path, hardLink) == 0)
        for name in [path, hardLink] {
            let error = await expectVaultError(.unsafePermissions) { try SQLiteCredentialStore(path: name) }
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

    @Test("a lock taken on a lock file that was deleted or replaced meanwhile is detected, not trusted")
    func replacedLockFile() async throws {
        let store = try SQLiteCredentialStore(path: path)
        try await store.withAccountLock("acme", timeout: .seconds(5)) {}
        // The race: a holder opens the lock file, then a clean-up tool replaces it (a new inode at the same path).
        let fd = try store.lock.openLockFile()
        defer { close(fd) }
        #expect(try store.lock.isStillAtPath(fd))
        let replacement = store.lockDirectory + "/replacement"
        #expect(
            FileManager.default.createFile(atPath: replacement, contents: nil, attributes: [.posixPermissions: 0o600])
        )
        #expect(rename(replacement, store.lockFile) == 0)
        #expect(try !store.lock.isStillAtPath(fd))
        unlink(store.lockFile)
        #expect(try !store.lock.isStillAtPath(fd))
        // Holders that come later lock the file now at the path, and exclude each other.
        let other = try SQLiteCredentialStore(path: path)
        #expect(try await lockIsShared(store, other))
    }

    @Test("an unsafe lock folder is refused (78): a symlink, or group/other permissions")
    func unsafeLockFolder() async throws {
        let store = try SQLiteCredentialStore(path: path)
        try await store.withAccountLock("acme", timeout: .seconds(5)) {}
        chmod(store.lockDirectory, 0o755)
        await expectVaultError(.unsafePermissions) { try await store.withAccountLock("acme", timeout: .seconds(1)) {} }
        // verify (through the store's own checks) reports it.
        let problems = try await store.checkStorage()
        #expect(problems.contains { $0.code == .unsafePermissions && $0.message.contains("lock folder") })
        chmod(store.lockDirectory, 0o700)

        let elsewhere = dir.file("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: false)
        chmod(elsewhere, 0o700)
        // A lock file replaced by a symlink.
        try FileManager.default.removeItem(atPath: store.lockFile)
        try FileManager.default.createSymbolicLink(atPath: store.lockFile, withDestinationPath: elsewhere + "/x")
        await expectVaultError(.unsafePermissions) { try await store.withAccountLock("acme", timeout: .seconds(1)) {} }
        try FileManager.default.removeItem(atPath: store.lockDirectory)
        try FileManager.default.createSymbolicLink(atPath: store.lockDirectory, withDestinationPath: elsewhere)
        await expectVaultError(.unsafePermissions) { try await store.withAccountLock("acme", timeout: .seconds(1)) {} }
    }
}
