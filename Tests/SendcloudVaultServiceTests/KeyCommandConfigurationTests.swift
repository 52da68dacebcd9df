import Configuration
import CredentialVault
import CredentialVaultSQLite
import Foundation
import Logging
import SendcloudVaultService
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `sendcloud_vault.key_command` / `passphrase_command` / `command_timeout` in ``VaultUnlockSource/secret(from:)``:
/// the CLI's order, real commands, a real vault.
@Suite("Key and passphrase commands from a ConfigReader")
struct KeyCommandConfigurationTests {
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    let directory: TempDir
    let key = KeyFileKey.generate()
    let passphrase = "config passphrase 91c2"
    /// A 0600 file holding ``key`` in base64.
    let keyFile: String
    /// A 0600 file holding a valid key that opens nothing.
    let wrongKeyFile: String

    init() throws {
        directory = try TempDir(prefix: "scv-keycommand-config")
        keyFile = directory.file("key")
        wrongKeyFile = directory.file("wrong")
        try Self.write(keyFile, key.base64Text().unsafeStringValue() ?? "")
        try Self.write(wrongKeyFile, KeyFileKey.generate().base64Text().unsafeStringValue() ?? "")
    }

    static func write(_ path: String, _ text: String) throws {
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        #expect(chmod(path, 0o600) == 0)
    }

    static func reader(_ values: [String: String], timeout: Int? = nil) -> ConfigReader {
        var entries: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in values {
            entries[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = ConfigValue(
                .string(value),
                isSecret: false
            )
        }
        if let timeout { entries["sendcloud_vault.command_timeout"] = ConfigValue(.int(timeout), isSecret: false) }
        return ConfigReader(provider: InMemoryProvider(values: entries))
    }

    /// Opens a vault with a key slot for ``key`` and a passphrase slot for ``passphrase`` with `secret`.
    func opens(_ secret: UnlockSecret?) async throws -> Bool {
        let path = directory.file("vault-\(UUID().uuidString).sqlite")
        _ = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: path, create: true),
            slots: [.key(key), .passphrase(SecureBytes(utf8: passphrase), .interactive)],
            logger: Self.logger
        )
        guard let secret else { return false }
        do {
            _ = try await CredentialVault.open(
                SQLiteCredentialStore(path: path, create: false),
                with: secret,
                logger: Self.logger
            )
            return true
        } catch let error as VaultError where error.code == .wrongKey {
            return false
        }
    }

    @Test("key_command and passphrase_command each open the vault")
    func success() async throws {
        let byKey = try VaultUnlockSource.secret(from: Self.reader(["sendcloud_vault.key_command": "cat '\(keyFile)'"]))
        guard case .key = byKey else {
            Issue.record("key_command did not give a key")
            return
        }
        #expect(try await opens(byKey))
        let byPassphrase = try VaultUnlockSource.secret(
            from: Self.reader(["sendcloud_vault.passphrase_command": "echo '\(passphrase)'"])
        )
        guard case .passphrase = byPassphrase else {
            Issue.record("passphrase_command did not give a passphrase")
            return
        }
        #expect(try await opens(byPassphrase))
    }

    @Test(
        "the order: key_file and key beat key_command; key_command beats passphrase_file; passphrase beats the command"
    )
    func order() async throws {
        let marker = directory.file("ran")
        let keyCommand = "touch '\(marker)'; cat '\(keyFile)'"
        // A wrong key file first: it is the only source tried, so the (right) command never runs.
        let fileFirst = try VaultUnlockSource.secret(
            from: Self.reader(["sendcloud_vault.key_file": wrongKeyFile, "sendcloud_vault.key_command": keyCommand])
        )
        #expect(try await !opens(fileFirst))
        #expect(!FileManager.default.fileExists(atPath: marker), "the key command ran though a key file was set")
        let wrongKeyText = try String(contentsOfFile: wrongKeyFile, encoding: .utf8)
        let keyFirst = try VaultUnlockSource.secret(
            from: Self.reader(["sendcloud_vault.key": wrongKeyText, "sendcloud_vault.key_command": keyCommand])
        )
        #expect(try await !opens(keyFirst))
        #expect(!FileManager.default.fileExists(atPath: marker), "the key command ran though a key was set")
        // The key command beats a (wrong) passphrase file.
        try Self.write(directory.file("wrong-pass"), "wrong")
        let commandFirst = try VaultUnlockSource.secret(
            from: Self.reader([
                "sendcloud_vault.key_command": keyCommand,
                "sendcloud_vault.passphrase_file": directory.file("wrong-pass"),
            ])
        )
        #expect(try await opens(commandFirst))
        #expect(FileManager.default.fileExists(atPath: marker))
        // A (wrong) passphrase beats a passphrase command, which never runs.
        let passMarker = directory.file("pass-ran")
        let passphraseFirst = try VaultUnlockSource.secret(
            from: Self.reader([
                "sendcloud_vault.passphrase": "wrong",
                "sendcloud_vault.passphrase_command": "touch '\(passMarker)'; echo '\(passphrase)'",
            ])
        )
        #expect(try await !opens(passphraseFirst))
        #expect(!FileManager.default.fileExists(atPath: passMarker))
    }

    @Test("a failing command names its configuration key, not its output")
    func failureNamesKey() throws {
        do {
            _ = try VaultUnlockSource.secret(
                from: Self.reader(["sendcloud_vault.passphrase_command": "echo out-secret-44; echo nope >&2; exit 4"])
            )
            Issue.record("accepted")
        } catch {
            #expect(error.code == .secretCommandFailed)
            #expect(error.message.contains("sendcloud_vault.passphrase_command"), "\(error)")
            #expect(error.message.contains("status 4") && error.message.contains("nope"), "\(error)")
            #expect(!error.message.contains("out-secret-44"), "\(error)")
        }
    }

    @Test("command_timeout bounds a hanging command; an out-of-range value is refused")
    func timeout() throws {
        let start = ContinuousClock.now
        do {
            _ = try VaultUnlockSource.secret(
                from: Self.reader(["sendcloud_vault.key_command": "sleep 30"], timeout: 1)
            )
            Issue.record("accepted")
        } catch {
            #expect(error.code == .secretCommandFailed)
            #expect(error.message.contains("did not finish within 1 s"), "\(error)")
        }
        #expect(ContinuousClock.now - start < .seconds(10))
        do {
            _ = try VaultUnlockSource.secret(from: Self.reader(["sendcloud_vault.key_command": "true"], timeout: 0))
            Issue.record("accepted")
        } catch {
            #expect(error.code == .invalidInput)
        }
    }
}
