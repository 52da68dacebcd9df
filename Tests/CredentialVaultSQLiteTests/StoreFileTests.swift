import CredentialVault
import Foundation
import GRDB
import Logging
import Testing

@testable import CredentialVaultSQLite

/// The vault's companion files and folder get the vault file's checks; deleted data is zeroed.
@Suite("Vault files, folder and free pages")
struct StoreFileTests {
    let dir: TempDir
    let path: String
    let key = KeyFileKey.generate()
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    init() async throws {
        dir = try TempDir()
        path = dir.file("vaults/vault.sqlite")
        _ = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: path, create: true),
            slots: [.key(key)],
            logger: logger
        )
    }

    @Test("a -wal or -shm file that group or others may use, or that is a symlink, is refused (78)")
    func companions() async throws {
        for suffix in ["-wal", "-shm"] {
            let companion = path + suffix
            try? FileManager.default.removeItem(atPath: companion)
            #expect(
                FileManager.default.createFile(atPath: companion, contents: nil, attributes: [.posixPermissions: 0o666])
            )
            chmod(companion, 0o666)
            let error = expectVaultError(.unsafePermissions) { try SQLiteCredentialStore(path: path) }
            #expect(error?.message.contains(suffix) == true)
            try FileManager.default.removeItem(atPath: companion)

            try FileManager.default.createSymbolicLink(atPath: companion, withDestinationPath: dir.file("elsewhere"))
            expectVaultError(.unsafePermissions) { try SQLiteCredentialStore(path: path) }
            try FileManager.default.removeItem(atPath: companion)
        }
        _ = try SQLiteCredentialStore(path: path)
    }

    @Test("a vault folder writable by group or others is refused (78); a readable one is fine")
    func folder() async throws {
        let folder = dir.file("vaults")
        for mode in [0o770, 0o757, 0o777, 0o1777] {
            chmod(folder, mode_t(mode))
            expectVaultError(.unsafePermissions) { try SQLiteCredentialStore(path: path) }
        }
        chmod(folder, 0o755)
        _ = try SQLiteCredentialStore(path: path)
        // Creating a vault in a refused folder leaves no file behind.
        chmod(folder, 0o777)
        let fresh = dir.file("vaults/fresh.sqlite")
        expectVaultError(.unsafePermissions) { try SQLiteCredentialStore(path: fresh, create: true) }
        #expect(!FileManager.default.fileExists(atPath: fresh))
        chmod(folder, 0o700)
    }

    @Test("secure_delete is on: a removed account's sealed bytes do not remain in the file")
    func secureDelete() async throws {
        let store = try SQLiteCredentialStore(path: path)
        #expect(try store.secureDeleteSetting() == 1)
        let vault = try await CredentialVault.open(store, with: .key(key), logger: logger)
        try await vault.addAccount(
            Account(name: "gone", mode: .clientCredentials, clientID: "id", tokenURL: "https://example.com/t"),
            secrets: AccountSecrets(clientSecret: SecureBytes(utf8: String(repeating: "s", count: 64)))
        )
        let sealed = try await DatabaseQueue(path: path).read {
            try Data.fetchOne($0, sql: "SELECT client_secret FROM account WHERE name = 'gone'")
        }
        let bytes = try #require(sealed)
        try await vault.removeAccount(named: "gone")
        try store.close()
        _ = try await DatabaseQueue(path: path).writeWithoutTransaction { try $0.checkpoint(.truncate) }
        let file = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(file.range(of: bytes.suffix(32)) == nil)
    }
}
