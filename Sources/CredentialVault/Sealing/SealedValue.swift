/// A sealed secret as stored: `version (1) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`.
///
/// Produced and opened only by ``RecordCipher``; the bytes reveal nothing but the secret's length.
public struct SealedValue: Sendable, Hashable, CustomStringConvertible {
    /// The format version written in the first byte of new values: 2, whose associated data authenticates the
    /// account's metadata (``AuthenticatedMetadata``).
    public static let formatVersion: UInt8 = 2
    /// The first format: associated data without the metadata. Opened only in a vault not yet upgraded.
    public static let legacyFormatVersion: UInt8 = 1

    /// The stored bytes.
    public let bytes: [UInt8]

    /// Wraps bytes read from storage; they are checked when opened.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The length only.
    public var description: String { "SealedValue(\(bytes.count) bytes)" }
}
