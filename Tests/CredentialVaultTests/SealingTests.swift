import Foundation
import Testing

@testable import CredentialVault

@Suite("Sealing records")
struct SealingTests {
    let key = DataKey.generate(id: 1)
    let secret = SecureBytes(utf8: "rt-secret-value-0123456789")

    @Test("every field round-trips", arguments: SecretField.allCases)
    func roundTrip(field: SecretField) throws {
        let ctx = context(field: field)
        let sealed = RecordCipher.seal(secret, key: key, context: ctx)
        #expect(try RecordCipher.open(sealed, key: key, context: ctx) == secret)
        #expect(sealed.bytes.count == 1 + 24 + secret.count + 16)
    }

    @Test("an empty value round-trips")
    func emptyValue() throws {
        let ctx = context()
        let sealed = RecordCipher.seal(SecureBytes(count: 0) { _ in }, key: key, context: ctx)
        #expect(try RecordCipher.open(sealed, key: key, context: ctx).count == 0)
    }

    @Test("the same plaintext sealed twice gives different nonces and ciphertexts")
    func nonceUniqueness() {
        let ctx = context()
        var seen = Set<[UInt8]>()
        var nonces = Set<[UInt8]>()
        for _ in 0..<1000 {
            let sealed = RecordCipher.seal(secret, key: key, context: ctx)
            seen.insert(sealed.bytes)
            nonces.insert(Array(sealed.bytes[1..<25]))
        }
        #expect(seen.count == 1000)
        #expect(nonces.count == 1000)
    }

    @Test("flipping any single byte (any bit position) fails with an integrity error, never plaintext")
    func tamperEveryByte() {
        let ctx = context()
        let sealed = RecordCipher.seal(secret, key: key, context: ctx)
        for index in sealed.bytes.indices {
            for bit in [0, 7] {
                var bytes = sealed.bytes
                bytes[index] ^= UInt8(1 << bit)
                #expect(throws: VaultError.self) {
                    try RecordCipher.open(SealedValue(bytes: bytes), key: key, context: ctx)
                }
                do {
                    _ = try RecordCipher.open(SealedValue(bytes: bytes), key: key, context: ctx)
                } catch {
                    #expect(error.code == .integrityFailure)
                }
            }
        }
    }

    @Test("truncated or extended values fail with an integrity error")
    func truncation() {
        let ctx = context()
        let sealed = RecordCipher.seal(secret, key: key, context: ctx).bytes
        for length in [0, 1, 25, 40, sealed.count - 1] {
            expectVaultError(.integrityFailure) {
                try RecordCipher.open(SealedValue(bytes: Array(sealed.prefix(length))), key: key, context: ctx)
            }
        }
        expectVaultError(.integrityFailure) {
            try RecordCipher.open(SealedValue(bytes: sealed + [0]), key: key, context: ctx)
        }
    }

    @Test("a value moved to another account, field, vault or key id does not open")
    func bindings() {
        let ctx = context("acme", field: .refreshToken)
        let sealed = RecordCipher.seal(secret, key: key, context: ctx)
        let moved: [SealingContext] = [
            context("acme2", field: .refreshToken),
            context("acme", field: .accessToken),
            context("acme", field: .clientSecret),
            context("acme", field: .refreshToken, vaultID: Array(repeating: 0xAC, count: 16)),
        ]
        for other in moved {
            expectVaultError(.integrityFailure) { try RecordCipher.open(sealed, key: key, context: other) }
        }
        let otherKey = DataKey.generate(id: 1)
        expectVaultError(.integrityFailure) { try RecordCipher.open(sealed, key: otherKey, context: ctx) }
        let laterKey = DataKey.generate(id: 2)
        expectVaultError(.integrityFailure) {
            try RecordCipher.open(sealed, key: laterKey, context: context("acme", field: .refreshToken, keyID: 2))
        }
    }

    @Test(
        "a value does not open when mode, client id, token URL, scopes, generation or the set of fields differ",
        arguments: [
            sampleMetadata(mode: .clientCredentials),
            sampleMetadata(clientID: "acme-public2"),
            sampleMetadata(tokenURL: "http://127.0.0.1:9/x"),
            sampleMetadata(tokenURL: "https://account.sendcloud.com/oauth2/token "),
            sampleMetadata(scopes: nil),
            sampleMetadata(scopes: "api offline_access"),
            sampleMetadata(generation: 2),
            sampleMetadata(fields: [.clientSecret]),
            sampleMetadata(fields: [.clientSecret, .refreshToken, .accessToken]),
        ]
    )
    func metadataBinding(edited: AuthenticatedMetadata) throws {
        let ctx = context("acme", field: .refreshToken)
        let sealed = RecordCipher.seal(secret, key: key, context: ctx)
        #expect(try RecordCipher.open(sealed, key: key, context: ctx) == secret)
        var other = ctx
        other.metadata = edited
        expectVaultError(.integrityFailure) { try RecordCipher.open(sealed, key: key, context: other) }
    }

    @Test("a length-prefixed encoding: moving bytes between client id and token URL does not keep a value valid")
    func metadataFieldBoundaries() {
        let ctx = context("acme", field: .clientSecret, metadata: sampleMetadata(clientID: "ab", tokenURL: "https://c"))
        let sealed = RecordCipher.seal(secret, key: key, context: ctx)
        let shifted = context(
            "acme",
            field: .clientSecret,
            metadata: sampleMetadata(clientID: "a", tokenURL: "bhttps://c")
        )
        expectVaultError(.integrityFailure) { try RecordCipher.open(sealed, key: key, context: shifted) }
    }

    @Test("integrity errors name the account and field but never the secret")
    func errorTextHasNoSecret() throws {
        let ctx = context("acme", field: .clientSecret)
        var bytes = RecordCipher.seal(secret, key: key, context: ctx).bytes
        bytes[30] ^= 1
        do {
            _ = try RecordCipher.open(SealedValue(bytes: bytes), key: key, context: ctx)
            Issue.record("tampered value opened")
        } catch {
            #expect(error.message.contains("acme"))
            #expect(!String(describing: error).contains("rt-secret-value"))
        }
    }
}
