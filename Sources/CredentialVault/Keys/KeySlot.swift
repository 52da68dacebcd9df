public import Foundation

/// One way in to the data key: the data key wrapped (XChaCha20-Poly1305) under a passphrase-derived key or a
/// key-file key. Slots can be added and removed without touching any record.
public struct KeySlot: Sendable, Equatable {
    /// How the wrapping key is obtained.
    public enum Kind: Sendable, Equatable {
        /// Argon2id over a passphrase, with the salt and limits as stored (bounded again before use).
        case passphrase(salt: [UInt8], opsLimit: UInt64, memLimit: UInt64)
        /// A 32-byte random key kept in a file or an environment variable.
        case keyFile

        /// `passphrase` or `key-file`.
        public var name: String {
            switch self {
            case .passphrase: "passphrase"
            case .keyFile: "key-file"
            }
        }
    }

    /// The store's id for the slot; `0` before it is stored.
    public var id: Int64
    /// How the wrapping key is obtained.
    public var kind: Kind
    /// The id of the data key this slot wraps.
    public var keyID: UInt32
    /// `version ‖ nonce ‖ wrapped key ‖ tag`.
    public var wrappedKey: [UInt8]
    /// When the slot was made.
    public var createdAt: Date

    /// Creates a slot value (stores use this to rebuild slots they read).
    public init(id: Int64, kind: Kind, keyID: UInt32, wrappedKey: [UInt8], createdAt: Date) {
        self.id = id
        self.kind = kind
        self.keyID = keyID
        self.wrappedKey = wrappedKey
        self.createdAt = createdAt
    }
}
