/// The secret a backup is sealed under — its own, not the vault's: a backup opens in a vault with another data key
/// and other slots.
///
/// A key is derived from it for the backup alone (keyed BLAKE2b with a label and the backup's salt), so a vault key
/// file reused as a backup key still yields a key no vault uses.
public enum BackupSecret: Sendable {
    /// A passphrase, stretched with Argon2id (salt and limits stored in the backup's header).
    case passphrase(SecureBytes)
    /// A 32-byte random key, kept as base64 text in a file (the format of vault key files, ``KeyFileKey``).
    case key(KeyFileKey)

    /// Which kind of secret a backup is sealed under.
    public enum Kind: UInt8, Sendable, CustomStringConvertible {
        /// A backup passphrase.
        case passphrase = 1
        /// A backup key file.
        case keyFile = 2

        /// `passphrase` or `key-file`.
        public var description: String {
            switch self {
            case .passphrase: "passphrase"
            case .keyFile: "key-file"
            }
        }
    }

    /// The kind of this secret.
    public var kind: Kind {
        switch self {
        case .passphrase: .passphrase
        case .key: .keyFile
        }
    }
}
