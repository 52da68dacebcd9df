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
    /// The operator's name for the slot (`key add --label`: 1–64 printable characters), if any. Bound into the
    /// wrap's associated data: a store writer cannot relabel a slot without breaking it.
    public var label: String?
    /// For a key-file slot made by this version: ``KeyFileKey/fingerprint`` of its key, so that an operator can tell
    /// which file a slot takes without the key. Bound into the wrap like ``label``.
    public var fingerprint: String?

    /// Creates a slot value (stores use this to rebuild slots they read).
    public init(
        id: Int64,
        kind: Kind,
        keyID: UInt32,
        wrappedKey: [UInt8],
        createdAt: Date,
        label: String? = nil,
        fingerprint: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.keyID = keyID
        self.wrappedKey = wrappedKey
        self.createdAt = createdAt
        self.label = label
        self.fingerprint = fingerprint
    }

    /// Whether `text` is an acceptable label: 1–64 characters, none of them a control, format or separator
    /// character (it is printed to terminals).
    public static func isValidLabel(_ text: String) -> Bool {
        guard (1...64).contains(text.count), text.utf8.count <= 256 else { return false }
        return text.unicodeScalars.allSatisfy { scalar in
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned, .privateUse: false
            default: true
            }
        }
    }
}
