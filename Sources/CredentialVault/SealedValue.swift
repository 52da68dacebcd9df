/// A sealed secret as stored: `version (1) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`.
///
/// Produced and opened only by ``RecordCipher``; the bytes reveal nothing but the secret's length.
public struct SealedValue: Sendable, Hashable, CustomStringConvertible {
    /// The format version written in the first byte.
    public static let formatVersion: UInt8 = 1

    /// The stored bytes.
    public let bytes: [UInt8]

    /// Wraps bytes read from storage; they are checked when opened.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The length only.
    public var description: String { "SealedValue(\(bytes.count) bytes)" }
}

/// Where a sealed value belongs. All of it goes into the associated data, so a value moved to another vault,
/// account, field or key does not open.
package struct SealingContext: Sendable {
    package var vaultID: [UInt8]
    package var keyID: UInt32
    package var account: AccountName
    package var field: SecretField

    package init(vaultID: [UInt8], keyID: UInt32, account: AccountName, field: SecretField) {
        self.vaultID = vaultID
        self.keyID = keyID
        self.account = account
        self.field = field
    }

    /// `"SCVR" ‖ version ‖ vault id (16) ‖ key id (u32 BE) ‖ field (u8) ‖ name length (u16 BE) ‖ name`.
    var associatedData: [UInt8] {
        var ad: [UInt8] = Array("SCVR".utf8)
        ad.append(SealedValue.formatVersion)
        ad += vaultID
        ad.appendBigEndian(keyID)
        ad.append(field.rawValue)
        let name = Array(account.rawValue.utf8)
        ad.appendBigEndian(UInt16(name.count))
        ad += name
        return ad
    }
}

/// Seals and opens record values with XChaCha20-Poly1305 and a fresh random nonce per seal.
/// There is no way to open without the associated data of a ``SealingContext``.
package enum RecordCipher {
    package static func seal(_ plaintext: SecureBytes, key: DataKey, context: SealingContext) -> SealedValue {
        seal(plaintext, key: key, context: context, nonce: Sodium.randomBytes(Sodium.aeadNonceBytes))
    }

    /// Deterministic variant for known-answer tests only.
    static func seal(_ plaintext: SecureBytes, key: DataKey, context: SealingContext, nonce: [UInt8]) -> SealedValue {
        precondition(key.id == context.keyID, "sealing context names another key")
        let ct = plaintext.withUnsafeBytes { pt in
            Sodium.aeadSeal(plaintext: pt, ad: context.associatedData, nonce: nonce, key: key.bytes)
        }
        return SealedValue(bytes: [SealedValue.formatVersion] + nonce + ct)
    }

    package static func open(
        _ value: SealedValue,
        key: DataKey,
        context: SealingContext
    ) throws(VaultError) -> SecureBytes {
        let b = value.bytes
        let header = 1 + Sodium.aeadNonceBytes
        guard b.count >= header + Sodium.aeadTagBytes, b[0] == SealedValue.formatVersion else {
            throw .integrity("the sealed \(context.field) of '\(context.account)' is malformed")
        }
        guard key.id == context.keyID else {
            throw .integrity(
                "the sealed \(context.field) of '\(context.account)' names key \(context.keyID), "
                    + "which this vault does not hold"
            )
        }
        guard
            let plaintext = Sodium.aeadOpen(
                ciphertext: b[header...],
                ad: context.associatedData,
                nonce: b[1..<header],
                key: key.bytes
            )
        else {
            throw .integrity("the sealed \(context.field) of '\(context.account)' failed its integrity check")
        }
        return plaintext
    }
}

/// A data key: 32 random bytes (mlocked) and the id records name it by.
package struct DataKey: Sendable {
    package var id: UInt32
    package var bytes: SecureBytes

    package init(id: UInt32, bytes: SecureBytes) {
        self.id = id
        self.bytes = bytes
    }

    package static func generate(id: UInt32) -> DataKey {
        DataKey(id: id, bytes: SecureBytes.random(count: Sodium.aeadKeyBytes, locked: true))
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
