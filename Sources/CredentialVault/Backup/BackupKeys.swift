/// The keys of one backup, derived from its secret and salt: the secretstream key and the key of the header's key
/// check. Each is keyed BLAKE2b of a label and the salt under the root key — the backup key itself, or
/// Argon2id(passphrase, salt) — so the two are independent, and differ from every key a vault derives from the
/// same key file (a vault uses a key-file key directly to wrap its data key).
struct BackupKeys {
    let streamKey: SecureBytes
    let checkKey: SecureBytes

    private static let streamLabel = Array("sendcloud-vault backup v1 stream key".utf8)
    private static let checkLabel = Array("sendcloud-vault backup v1 check key".utf8)

    /// Derives the keys for `header` (its kind, salt and limits) from `secret`.
    /// - Throws: ``VaultError/Code/wrongKey`` when the secret is of the other kind; ``VaultError/Code/invalidInput``
    ///   for an empty passphrase; ``VaultError/Code/storage`` when Argon2id cannot allocate its memory.
    static func derive(_ secret: BackupSecret, for header: BackupHeader) throws(VaultError) -> BackupKeys {
        let root: SecureBytes
        switch (secret, header.kind) {
        case (.passphrase(let passphrase), .passphrase):
            guard !passphrase.isEmpty else { throw .invalid("the backup passphrase is empty") }
            let limits = header.limits ?? .interactive
            guard
                let stretched = Sodium.argon2id(
                    passphrase: passphrase,
                    salt: header.salt,
                    opsLimit: limits.opsLimit,
                    memLimit: limits.memLimit
                )
            else { throw VaultError(.storage, "Argon2id could not allocate \(limits.memLimit) bytes") }
            root = stretched
        case (.key(let key), .keyFile):
            root = key.bytes
        case (.key, .passphrase):
            throw .wrongKey("this backup is sealed under a passphrase, not a key file")
        case (.passphrase, .keyFile):
            throw .wrongKey("this backup is sealed under a key file, not a passphrase")
        }
        return BackupKeys(
            streamKey: Sodium.keyedHash(streamLabel + header.salt, key: root, outputBytes: Sodium.secretStreamKeyBytes),
            checkKey: Sodium.keyedHash(checkLabel + header.salt, key: root)
        )
    }

    /// The key check of a header whose first 66 bytes are `fields`.
    func keyCheck(of fields: [UInt8]) -> SecureBytes {
        Sodium.keyedHash(fields, key: checkKey, outputBytes: BackupHeader.checkBytes, locked: false)
    }
}
