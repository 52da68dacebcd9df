import Foundation
import Testing

@testable import CredentialVault

@Suite("Known answers")
struct KnownAnswerTests {
    @Test("XChaCha20-Poly1305 matches draft-irtf-cfrg-xchacha A.3.1")
    func xchachaDraftVector() {
        let key = SecureBytes(Array(0x80...0x9F))
        let nonce = Array(UInt8(0x40)...UInt8(0x57))
        let ad = [UInt8](hex: "50515253c0c1c2c3c4c5c6c7")
        let plaintext = Array(
            "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."
                .utf8
        )
        let sealed = plaintext.withUnsafeBytes { Sodium.aeadSeal(plaintext: $0, ad: ad, nonce: nonce, key: key) }
        #expect(
            sealed.hex
                == "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e"
                + "c0875924c1c7987947deafd8780acf49"
        )
    }

    @Test("record format 2: sealing with a fixed key, nonce, context and metadata gives the golden bytes; they open")
    func recordGolden() throws {
        let golden = try GoldenVectors.load()
        let vaultID = [UInt8](hex: golden.vault_id)
        for record in golden.records {
            let ctx = SealingContext(
                vaultID: vaultID,
                keyID: golden.key_id,
                account: try AccountName(record.account),
                field: try #require(SecretField(rawValue: record.field)),
                metadata: golden.authenticatedMetadata
            )
            let sealed = RecordCipher.seal(
                SecureBytes([UInt8](hex: record.plaintext)),
                key: golden.dataKey,
                context: ctx,
                nonce: [UInt8](hex: record.nonce)
            )
            #expect(sealed.bytes.hex == record.sealed)
            let opened = try RecordCipher.open(
                SealedValue(bytes: [UInt8](hex: record.sealed)),
                key: golden.dataKey,
                context: ctx
            )
            #expect(opened.bytes.hex == record.plaintext)
        }
    }

    @Test("record format 1 (legacy): golden bytes open only while legacy values are accepted")
    func legacyRecordGolden() throws {
        let golden = try GoldenVectors.load()
        let vaultID = [UInt8](hex: golden.vault_id)
        for record in golden.legacy_records {
            let ctx = SealingContext(
                vaultID: vaultID,
                keyID: golden.key_id,
                account: try AccountName(record.account),
                field: try #require(SecretField(rawValue: record.field)),
                metadata: golden.authenticatedMetadata
            )
            let value = SealedValue(bytes: [UInt8](hex: record.sealed))
            let opened = try RecordCipher.open(value, key: golden.dataKey, context: ctx, acceptingLegacy: true)
            #expect(opened.bytes.hex == record.plaintext)
            expectVaultError(.integrityFailure) {
                try RecordCipher.open(value, key: golden.dataKey, context: ctx, acceptingLegacy: false)
            }
        }
    }

    @Test("passphrase slot format: Argon2id key and wrapped data key match the golden bytes")
    func passphraseSlotGolden() throws {
        let golden = try GoldenVectors.load()
        let g = golden.passphrase_slot
        let vaultID = [UInt8](hex: golden.vault_id)
        let kind = KeySlot.Kind.passphrase(salt: [UInt8](hex: g.salt), opsLimit: g.ops_limit, memLimit: g.mem_limit)
        let slot = KeySlot(
            id: 1,
            kind: kind,
            keyID: golden.key_id,
            wrappedKey: [UInt8](hex: g.wrapped_key),
            createdAt: Date()
        )
        let wrappingKey = try SlotCipher.wrappingKey(
            for: slot,
            secret: .passphrase(SecureBytes([UInt8](hex: g.passphrase)))
        )
        #expect(wrappingKey.bytes.hex == g.wrapping_key)
        let wrapped = SlotCipher.wrap(
            golden.dataKey,
            wrappingKey: wrappingKey,
            vaultID: vaultID,
            kind: kind,
            nonce: [UInt8](hex: g.nonce)
        )
        #expect(wrapped.hex == g.wrapped_key)
        let unwrapped = try #require(try SlotCipher.unwrap(slot, wrappingKey: wrappingKey, vaultID: vaultID))
        #expect(unwrapped.bytes.bytes.hex == golden.data_key)
    }

    @Test("key-file slot format matches the golden bytes")
    func keyFileSlotGolden() throws {
        let golden = try GoldenVectors.load()
        let g = golden.key_file_slot
        let vaultID = [UInt8](hex: golden.vault_id)
        let wrapped = SlotCipher.wrap(
            golden.dataKey,
            wrappingKey: SecureBytes([UInt8](hex: g.key)),
            vaultID: vaultID,
            kind: .keyFile,
            nonce: [UInt8](hex: g.nonce)
        )
        #expect(wrapped.hex == g.wrapped_key)
        let slot = KeySlot(id: 2, kind: .keyFile, keyID: golden.key_id, wrappedKey: wrapped, createdAt: Date())
        let unwrapped = try #require(
            try SlotCipher.unwrap(slot, wrappingKey: SecureBytes([UInt8](hex: g.key)), vaultID: vaultID)
        )
        #expect(unwrapped.bytes.bytes.hex == golden.data_key)
    }
}
