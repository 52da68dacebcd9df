import Foundation

/// A secret that opens a vault.
public enum UnlockSecret: Sendable {
    /// A passphrase; tried against every passphrase slot.
    case passphrase(SecureBytes)
    /// A key-file key; tried against every key-file slot.
    case key(KeyFileKey)
}
