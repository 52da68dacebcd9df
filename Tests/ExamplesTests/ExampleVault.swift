import CredentialVault
import CredentialVaultSQLite
import Foundation
import Logging
import TestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real SQLite vault in a private temporary folder, unlocked by a key file (mode 0600) — as an operator makes one
/// with `sendcloud-vault init --generate-key-file` — and the environment that points an example at it.
final class ExampleVault: Sendable {
    let directory: TempDir
    let path: String
    let keyFile: String
    let vault: CredentialVault
    static let logger = Logger(label: "ExamplesTests") { _ in SwiftLogNoOpLogHandler() }

    private init(directory: TempDir, path: String, keyFile: String, vault: CredentialVault) {
        self.directory = directory
        self.path = path
        self.keyFile = keyFile
        self.vault = vault
    }

    static func make() async throws -> ExampleVault {
        let directory = try TempDir(prefix: "examples")
        let path = directory.file("vault.sqlite")
        let keyFile = directory.file("vault.key")
        let key = KeyFileKey.generate()
        try writePrivateFile(keyFile, key.base64Text().withUnsafeBytes { Array($0) })
        let vault = try await CredentialVault.create(
            in: try SQLiteCredentialStore(path: path, create: true),
            slots: [.key(key)],
            logger: logger
        )
        return ExampleVault(directory: directory, path: path, keyFile: keyFile, vault: vault)
    }

    /// `SENDCLOUD_VAULT` and `SENDCLOUD_VAULT_KEY_FILE`.
    var environment: [String: String] { ["SENDCLOUD_VAULT": path, "SENDCLOUD_VAULT_KEY_FILE": keyFile] }

    /// Writes `bytes` to a new file that only its owner may read (0600).
    static func writePrivateFile(_ path: String, _ bytes: [UInt8]) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw TestSupportError(description: "cannot create \(path)") }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw TestSupportError(description: "cannot write \(path)") }
    }

    /// A stored secret as text (for comparing with what the fake issued).
    func text(of field: SecretField, of name: AccountName) async throws -> String? {
        let (_, secrets) = try await vault.openAccount(named: name)
        return secrets[field]?.unsafeStringValue()
    }
}
