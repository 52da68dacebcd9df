import AsyncHTTPClient
import Configuration
import CredentialVault
import CredentialVaultSQLite
import Foundation
import Logging
import SendcloudVaultService
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Unlocking from swift-configuration's `ConfigReader` (``VaultUnlockSource/secret(from:)``,
/// ``VaultService/open(config:configuration:logger:)``): the CLI's order and file checks, key material read as secret.
@Suite("Unlocking from a ConfigReader")
struct ConfigurationUnlockTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// Records every configuration access as swift-configuration renders it (what an access log would print).
    final class RecordingReporter: AccessReporter {
        let lines = Mutex<[String]>([])
        func report(_ event: AccessEvent) { lines.withLock { $0.append(event.description) } }
        var text: String { lines.withLock { $0.joined(separator: "\n") } }
    }

    static func reader(_ values: [AbsoluteConfigKey: ConfigValue], _ reporter: RecordingReporter) -> ConfigReader {
        ConfigReader(provider: InMemoryProvider(values: values), accessReporter: reporter)
    }

    static func write(_ path: String, _ text: String, mode: mode_t) throws {
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        #expect(chmod(path, mode) == 0)
    }

    /// A vault with a key slot and a passphrase slot.
    static func makeVault(_ dir: TempDir) async throws -> (KeyFileKey, String) {
        let key = KeyFileKey.generate()
        let passphrase = "correct horse battery staple"
        _ = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: dir.file("vault.sqlite"), create: true),
            slots: [.key(key), .passphrase(SecureBytes(utf8: passphrase))],
            logger: logger
        )
        return (key, passphrase)
    }

    @Test("a key in the configuration opens the vault, and the access log shows it redacted")
    func keyAsSecret() async throws {
        let dir = try TempDir(prefix: "scv-config")
        let (key, _) = try await Self.makeVault(dir)
        let keyText = try #require(key.base64Text().unsafeStringValue()).trimmingCharacters(in: .whitespacesAndNewlines)
        let reporter = RecordingReporter()
        let config = Self.reader(
            [
                "sendcloud_vault.location": ConfigValue(.string(dir.file("vault.sqlite")), isSecret: false),
                "sendcloud_vault.key": ConfigValue(.string(keyText), isSecret: false),  // the reader marks it secret
            ],
            reporter
        )
        var configuration = VaultService.Configuration()
        configuration.refresher = nil
        let service = try await VaultService.open(config: config, configuration: configuration, logger: Self.logger)
        #expect(try await service.vault.accounts().isEmpty)
        await service.shutdown()
        #expect(reporter.text.contains("sendcloud_vault.key"), "the access was not reported:\n\(reporter.text)")
        #expect(!reporter.text.contains(keyText), "the key appears in the access log")
    }

    @Test("the CLI's order: a key file beats a passphrase, and a wrong key file does not fall through")
    func order() async throws {
        let dir = try TempDir(prefix: "scv-config")
        let (key, passphrase) = try await Self.makeVault(dir)
        try Self.write(dir.file("key"), key.base64Text().unsafeStringValue() ?? "", mode: 0o600)
        try Self.write(dir.file("wrong"), KeyFileKey.generate().base64Text().unsafeStringValue() ?? "", mode: 0o600)
        let reporter = RecordingReporter()
        let good = try VaultUnlockSource.secret(
            from: Self.reader(
                [
                    "sendcloud_vault.key_file": .init(.string(dir.file("key")), isSecret: false),
                    "sendcloud_vault.passphrase": .init(.string(passphrase), isSecret: true),
                ],
                reporter
            )
        )
        guard case .key = good else {
            Issue.record("a key file and a passphrase gave \(String(describing: good)), not the key")
            return
        }
        let wrong = try #require(
            try VaultUnlockSource.secret(
                from: Self.reader(
                    [
                        "sendcloud_vault.key_file": .init(.string(dir.file("wrong")), isSecret: false),
                        "sendcloud_vault.passphrase": .init(.string(passphrase), isSecret: true),
                    ],
                    reporter
                )
            )
        )
        await expectVaultError(.wrongKey) {
            try await CredentialVault.open(
                SQLiteCredentialStore(path: dir.file("vault.sqlite")),
                with: wrong,
                logger: Self.logger
            )
        }
        let byPassphrase = try #require(
            try VaultUnlockSource.secret(
                from: Self.reader(["sendcloud_vault.passphrase": .init(.string(passphrase), isSecret: true)], reporter)
            )
        )
        _ = try await CredentialVault.open(
            SQLiteCredentialStore(path: dir.file("vault.sqlite")),
            with: byPassphrase,
            logger: Self.logger
        )
        #expect(!reporter.text.contains(passphrase), "the passphrase appears in the access log")
    }

    @Test("a key file others may read is refused (78), as the CLI refuses it")
    func keyFilePermissions() throws {
        let dir = try TempDir(prefix: "scv-config")
        try Self.write(dir.file("key"), KeyFileKey.generate().base64Text().unsafeStringValue() ?? "", mode: 0o644)
        expectVaultError(.unsafePermissions) {
            try VaultUnlockSource.secret(
                from: Self.reader(
                    ["sendcloud_vault.key_file": .init(.string(dir.file("key")), isSecret: false)],
                    RecordingReporter()
                )
            )
        }
    }

    @Test("a malformed key is wrongKey without echoing it; nothing set is nil; no location is invalid input")
    func badInput() async throws {
        let reporter = RecordingReporter()
        let error = expectVaultError(.wrongKey) {
            try VaultUnlockSource.secret(
                from: Self.reader(["sendcloud_vault.key": .init(.string("not-a-key-at-all"), isSecret: true)], reporter)
            )
        }
        #expect(error.map { !"\($0)".contains("not-a-key-at-all") } ?? true)
        #expect(try VaultUnlockSource.secret(from: Self.reader([:], reporter)) == nil)
        await expectVaultError(.invalidInput) {
            try await VaultService.open(
                config: Self.reader(["sendcloud_vault.key": .init(.string("x"), isSecret: true)], reporter),
                logger: Self.logger
            )
        }
        await expectVaultError(.invalidInput) {
            try await VaultService.open(
                config: Self.reader(
                    ["sendcloud_vault.location": .init(.string("mysql://h/db"), isSecret: false)],
                    reporter
                ),
                logger: Self.logger
            )
        }
    }
}
