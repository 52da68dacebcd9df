import CredentialVault
import Foundation
import Testing

@Suite("VaultUnlockSource: the order of the unlock sources and the checks on secret files")
struct VaultUnlockSourceTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("unlock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ bytes: [UInt8], mode: Int = 0o600) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    /// The code of the ``VaultError`` that `body` throws, `nil` if it throws nothing.
    func code(_ body: () throws -> Void) -> VaultError.Code? {
        do {
            try body()
            return nil
        } catch {
            return (error as? VaultError)?.code
        }
    }

    @Test("an explicit key file beats an explicit passphrase file")
    func keyFileFirst() {
        // (Assumes the test process has none of the SENDCLOUD_VAULT_* variables set.)
        #expect(VaultUnlockSource.first(keyFile: "k", passphraseFile: "p") == .keyFile(path: "k"))
        #expect(VaultUnlockSource.first(passphraseFile: "-") == .passphraseFile(path: "-"))
        #expect(VaultUnlockSource.first(passphraseFile: "-")?.readsStandardInput == true)
        #expect(VaultUnlockSource.keyFile(path: "k").path == "k")
        #expect(VaultUnlockSource.keyVariable("SENDCLOUD_VAULT_KEY").path == nil)
    }

    @Test("a secret file: one trailing newline stripped, private mode required when asked")
    func secretFile() throws {
        let crlf = try write("crlf", Array("secret\r\n\n".utf8))
        let read = try VaultUnlockSource.readSecretFile(crlf, what: "passphrase", requirePrivate: true)
        #expect(read == SecureBytes(utf8: "secret\r\n"))
        let open = try write("open", Array("secret".utf8), mode: 0o640)
        #expect(
            code { _ = try VaultUnlockSource.readSecretFile(open, what: "x", requirePrivate: true) }
                == .unsafePermissions
        )
        #expect(code { _ = try VaultUnlockSource.readSecretFile(open, what: "x", requirePrivate: false) } == nil)
    }

    @Test("missing, not regular, empty, NUL, too large")
    func refusals() throws {
        let missing = directory.appendingPathComponent("missing").path
        #expect(
            code { _ = try VaultUnlockSource.readSecretFile(missing, what: "x", requirePrivate: true) } == .notFound
        )
        #expect(
            code { _ = try VaultUnlockSource.readSecretFile(directory.path, what: "x", requirePrivate: false) }
                == .invalidInput
        )
        let empty = try write("empty", Array("\n".utf8))
        #expect(
            code { _ = try VaultUnlockSource.readSecretFile(empty, what: "x", requirePrivate: true) } == .invalidInput
        )
        let nul = try write("nul", [0x61, 0, 0x62])
        #expect(
            code { _ = try VaultUnlockSource.readSecretFile(nul, what: "x", requirePrivate: true) } == .invalidInput
        )
        let big = try write("big", [UInt8](repeating: 0x61, count: VaultUnlockSource.maximumSecretFileSize + 1))
        #expect(
            code { _ = try VaultUnlockSource.readSecretFile(big, what: "x", requirePrivate: true) } == .invalidInput
        )
    }

    @Test("a key file that holds no key is wrong-key; a good one unlocks with a key")
    func keyFiles() throws {
        let bad = try write("bad.key", Array("garbage\n".utf8))
        #expect(code { _ = try VaultUnlockSource.keyFile(path: bad).secret() } == .wrongKey)
        let good = try write("good.key", Array((Data(repeating: 7, count: 32).base64EncodedString() + "\n").utf8))
        guard case .key = try VaultUnlockSource.keyFile(path: good).secret() else {
            Issue.record("a key file must give a key")
            return
        }
        let passphrase = try write("pass", Array("pw\n".utf8))
        guard case .passphrase(let value) = try VaultUnlockSource.passphraseFile(path: passphrase).secret() else {
            Issue.record("a passphrase file must give a passphrase")
            return
        }
        #expect(value == SecureBytes(utf8: "pw"))
    }
}
