import Foundation
import Testing

@testable import CredentialVault

@Suite("Key slots and KDF limits")
struct KeySlotTests {
    let vaultID = Array(repeating: UInt8(0x11), count: 16)
    let fastLimits = try! KDFLimits(opsLimit: 1, memLimit: 8192)

    @Test("KDF limits outside the bounds are refused when chosen")
    func limitsBounded() {
        expectVaultError(.invalidInput) { try KDFLimits(opsLimit: 0, memLimit: 65536) }
        expectVaultError(.invalidInput) { try KDFLimits(opsLimit: 11, memLimit: 65536) }
        expectVaultError(.invalidInput) { try KDFLimits(opsLimit: 2, memLimit: 1024) }
        expectVaultError(.invalidInput) { try KDFLimits(opsLimit: 2, memLimit: 64 << 30) }
        #expect(KDFLimits.interactive.memLimit == 64 << 20)
        #expect(KDFLimits.sensitive.memLimit == KDFLimits.maximumMemLimit)
    }

    @Test(
        "out-of-bounds KDF limits read from a vault are rejected before hashing",
        arguments: [
            (UInt64(2), UInt64(64) << 30),  // 64 GiB
            (UInt64(2), UInt64.max),
            (UInt64(1_000_000), UInt64(65536)),
            (UInt64(0), UInt64(65536)),
            (UInt64(2), UInt64(0)),
        ]
    )
    func storedLimitsBounded(ops: UInt64, mem: UInt64) throws {
        let slot = KeySlot(
            id: 9,
            kind: .passphrase(salt: Array(repeating: 1, count: 16), opsLimit: ops, memLimit: mem),
            keyID: 1,
            wrappedKey: Array(repeating: 0, count: 73),
            createdAt: Date()
        )
        // An integrity error (not a failed allocation) shows the bounds check ran before crypto_pwhash.
        expectVaultError(.integrityFailure) {
            try SlotCipher.wrappingKey(for: slot, secret: .passphrase(SecureBytes(utf8: "pw")))
        }
    }

    @Test("a passphrase slot opens with its passphrase only")
    func passphraseSlot() throws {
        let dataKey = DataKey.generate(id: 3)
        let (slot, _) = try SlotCipher.makeSlot(
            .passphrase(SecureBytes(utf8: "right"), fastLimits),
            wrapping: dataKey,
            vaultID: vaultID
        )
        let right = try SlotCipher.wrappingKey(for: slot, secret: .passphrase(SecureBytes(utf8: "right")))
        #expect(try SlotCipher.unwrap(slot, wrappingKey: right, vaultID: vaultID)?.bytes == dataKey.bytes)
        let wrong = try SlotCipher.wrappingKey(for: slot, secret: .passphrase(SecureBytes(utf8: "wrong")))
        #expect(try SlotCipher.unwrap(slot, wrappingKey: wrong, vaultID: vaultID) == nil)
        #expect(try SlotCipher.unwrap(slot, wrappingKey: right, vaultID: Array(repeating: 0x12, count: 16)) == nil)
    }

    @Test("changing a slot's stored salt or limits makes it unopenable")
    func slotParametersBound() throws {
        let dataKey = DataKey.generate(id: 3)
        let (slot, wrappingKey) = try SlotCipher.makeSlot(
            .passphrase(SecureBytes(utf8: "pw"), fastLimits),
            wrapping: dataKey,
            vaultID: vaultID
        )
        guard case .passphrase(let salt, _, let mem) = slot.kind else {
            Issue.record("wrong kind")
            return
        }
        var altered = slot
        altered.kind = .passphrase(salt: salt, opsLimit: 2, memLimit: mem)
        // Even with the original wrapping key, the associated data no longer matches.
        #expect(try SlotCipher.unwrap(altered, wrappingKey: wrappingKey, vaultID: vaultID) == nil)
        altered = slot
        altered.keyID = 4
        #expect(try SlotCipher.unwrap(altered, wrappingKey: wrappingKey, vaultID: vaultID) == nil)
        altered = slot
        altered.wrappedKey[0] = 9
        expectVaultError(.integrityFailure) {
            try SlotCipher.unwrap(altered, wrappingKey: wrappingKey, vaultID: vaultID)
        }
    }

    @Test("a key-file key round-trips through its base64 text; malformed text is refused without being echoed")
    func keyFileKey() throws {
        let key = KeyFileKey.generate()
        let text = key.base64Text()
        #expect(text.bytes.last == 0x0A)
        let parsed = try KeyFileKey(base64Text: text)
        #expect(parsed.bytes == key.bytes)
        for bad in ["not base64!!", "c2hvcnQ=", String(repeating: "A", count: 60), ""] {
            do {
                _ = try KeyFileKey(base64Text: SecureBytes(utf8: bad))
                Issue.record("accepted a malformed key")
            } catch {
                #expect(error.code == .invalidInput)
                #expect(bad.isEmpty || !error.description.contains(bad))
            }
        }
    }
}

@Suite("SecureBytes")
struct SecureBytesTests {
    @Test("description, debugDescription and dump never show the bytes")
    func redacted() {
        let secret = SecureBytes(utf8: "hunter2-very-secret")
        #expect(String(describing: secret) == "<redacted>")
        #expect(String(reflecting: secret) == "SecureBytes(<redacted>)")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        let secrets = AccountSecrets(clientSecret: secret, refreshToken: SecureBytes(utf8: "rt-value"))
        #expect(!String(describing: secrets).contains("hunter2"))
        #expect(!String(describing: secrets).contains("rt-value"))
        var dumpedSecrets = ""
        dump(secrets, to: &dumpedSecrets)
        #expect(!dumpedSecrets.contains("hunter2"))
    }

    @Test("equality compares contents and length")
    func equality() {
        #expect(SecureBytes(utf8: "abc") == SecureBytes(utf8: "abc"))
        #expect(SecureBytes(utf8: "abc") != SecureBytes(utf8: "abd"))
        #expect(SecureBytes(utf8: "abc") != SecureBytes(utf8: "abcd"))
        #expect(SecureBytes(utf8: "") == SecureBytes(count: 0) { _ in })
    }

    @Test("one trailing newline or CRLF is stripped, no more")
    func newline() {
        #expect(SecureBytes(utf8: "abc\n").strippingOneTrailingNewline() == SecureBytes(utf8: "abc"))
        #expect(SecureBytes(utf8: "abc\r\n").strippingOneTrailingNewline() == SecureBytes(utf8: "abc"))
        #expect(SecureBytes(utf8: "abc\n\n").strippingOneTrailingNewline() == SecureBytes(utf8: "abc\n"))
        #expect(SecureBytes(utf8: "abc").strippingOneTrailingNewline() == SecureBytes(utf8: "abc"))
    }

    @Test("random buffers differ and have the asked length")
    func random() {
        let a = SecureBytes.random(count: 32)
        let b = SecureBytes.random(count: 32, locked: true)
        #expect(a.count == 32 && b.count == 32)
        #expect(a != b)
    }
}

@Suite("Account names")
struct AccountNameTests {
    @Test(
        "valid names",
        arguments: ["a", "acme-shop", "Bolt.Store_1", "ops@example.com", "9lives", String(repeating: "x", count: 128)]
    )
    func valid(name: String) throws {
        #expect(try AccountName(name).rawValue == name)
    }

    @Test(
        "invalid names",
        arguments: ["", "-acme", ".acme", "_a", "a b", "a/b", "ä", "a\n", String(repeating: "x", count: 129)]
    )
    func invalid(name: String) {
        expectVaultError(.invalidInput) { try AccountName(name) }
    }
}
