import Foundation

/// A 32-byte key for a key-file slot, kept as base64 text in a file or in `SENDCLOUD_VAULT_KEY`.
public struct KeyFileKey: Sendable {
    /// The raw key.
    let bytes: SecureBytes

    /// A new random key.
    public static func generate() -> KeyFileKey {
        KeyFileKey(bytes: SecureBytes.random(count: Sodium.aeadKeyBytes, locked: true))
    }

    private init(bytes: SecureBytes) { self.bytes = bytes }

    /// Parses base64 text (surrounding whitespace ignored). Throws ``VaultError/Code/invalidInput`` when it is
    /// not base64 of exactly 32 bytes; the message never echoes the text.
    public init(base64Text: SecureBytes) throws(VaultError) {
        guard let raw = Sodium.base64Decode(base64Text, locked: true), raw.count == Sodium.aeadKeyBytes else {
            throw .invalid("a vault key is base64 of exactly 32 bytes")
        }
        self.bytes = raw
    }

    /// The key as base64 text with a trailing newline, ready to be written to a key file.
    public func base64Text() -> SecureBytes {
        let text = Sodium.base64Encode(bytes)
        return SecureBytes(count: text.count + 1) { out in
            text.withUnsafeBytes { out.copyMemory(from: $0) }
            out[text.count] = 0x0A
        }
    }

    /// A non-secret name for this key: 16 hex digits of BLAKE2b keyed with the key over a fixed label. It tells key
    /// files apart (`key list`, `key add`) and says nothing usable about the key: finding a key from it is as hard
    /// as breaking the keyed hash.
    public var fingerprint: String {
        let digest = Sodium.keyedHash(Array("sendcloud-vault key fingerprint v1".utf8), key: bytes, outputBytes: 16)
        return digest.withUnsafeBytes { raw in raw.prefix(8).map { String(format: "%02x", $0) }.joined() }
    }
}
