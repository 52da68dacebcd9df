import Foundation

/// A key slot to create.
public enum NewKeySlot: Sendable {
    /// A passphrase slot with the given Argon2id limits.
    case passphrase(SecureBytes, KDFLimits = .interactive)
    /// A key-file slot for the given key.
    case key(KeyFileKey)
}
