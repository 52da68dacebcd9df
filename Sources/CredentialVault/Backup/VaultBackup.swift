public import Foundation

/// A sealed backup of a vault's accounts — metadata, status, generations and secrets — under a backup secret of
/// its own (``BackupSecret``), readable by any vault whatever its data key or store.
///
/// The file is one authenticated unit (`crypto_secretstream_xchacha20poly1305`): a clear header (``BackupHeader``:
/// magic, format version, secret kind, salt, Argon2id limits, stream header, key check, checksum), then one chunk
/// for a manifest and one per account, the last tagged final. The manifest authenticates the header; the stream
/// binds every chunk to its position. So a flipped byte anywhere, a chunk dropped, repeated or moved, a file cut
/// short or with bytes appended is ``VaultError/Code/integrityFailure``, while an intact backup opened with another
/// secret is ``VaultError/Code/wrongKey``.
///
/// ```swift
/// try await vault.exportBackup(to: "/backups/vault.scvb", secret: .key(backupKey))
/// let backup = try await VaultBackup.read(from: "/backups/vault.scvb", secret: .key(backupKey))
/// try await otherVault.importAccounts(backup.accounts, replace: false)
/// ```
public struct VaultBackup: Sendable {
    /// The accounts, ordered by name as exported, their secrets in clear (in ``SecureBytes``).
    public var accounts: [ImportedAccount]
    /// When the backup was made.
    public var exportedAt: Date
    /// The id of the vault it was made from.
    public var sourceVaultID: [UInt8]

    /// The format version written (and the only one read).
    public static let formatVersion = Int(BackupHeader.currentVersion)
    /// The largest backup file read (256 MiB): a larger file is refused before it is read.
    public static let maximumFileSize = 256 * 1024 * 1024
    /// The largest record (one account, all fields and secrets) written or read (1 MiB).
    public static let maximumRecordSize = 1024 * 1024

    /// A backup of `accounts`.
    public init(accounts: [ImportedAccount], sourceVaultID: [UInt8], exportedAt: Date = Date()) {
        self.accounts = accounts
        self.sourceVaultID = sourceVaultID
        self.exportedAt = exportedAt
    }

    // MARK: - Sealing

    /// The backup file's bytes, sealed under `secret`; `limits` are the Argon2id limits for a passphrase (runs the
    /// KDF once: call it off the cooperative pool, as ``CredentialVault/exportBackup(to:secret:limits:overwrite:lockTimeout:)``
    /// does).
    /// - Throws: ``VaultError/Code/invalidInput`` for an empty passphrase, an account without a client secret or a
    ///   record larger than ``maximumRecordSize``.
    public func sealed(with secret: BackupSecret, limits: KDFLimits = .interactive) throws(VaultError) -> [UInt8] {
        guard accounts.count <= BackupManifest.maximumAccounts else {
            throw .invalid("a backup holds at most \(BackupManifest.maximumAccounts) accounts")
        }
        var header = BackupHeader(
            kind: secret.kind,
            salt: Sodium.randomBytes(BackupHeader.saltBytes),
            limits: secret.kind == .passphrase ? limits : nil,
            streamHeader: []
        )
        let keys = try BackupKeys.derive(secret, for: header)
        let sealer = Sodium.SecretStreamSealer(key: keys.streamKey)
        header.streamHeader = sealer.header
        let fields = header.fields()
        let headerBytes = header.encoded(keyCheck: keys.keyCheck(of: fields).withUnsafeBytes { Array($0) })

        var out = headerBytes
        func append(_ chunk: [UInt8]) {
            out.appendBigEndian(UInt32(chunk.count))
            out += chunk
        }
        let manifest = BackupManifest(
            exportedAt: exportedAt,
            sourceVaultID: sourceVaultID,
            accountCount: accounts.count
        )
        append(sealer.seal(manifest.encoded(), ad: headerBytes, final: accounts.isEmpty))
        for (index, entry) in accounts.enumerated() {
            guard entry.secrets.clientSecret != nil else {
                throw .invalid("account '\(entry.account.name)' has no client secret")
            }
            let plaintext = BackupRecord.encode(entry)
            guard plaintext.count <= Self.maximumRecordSize else {
                throw .invalid("account '\(entry.account.name)' is larger than \(Self.maximumRecordSize) bytes")
            }
            append(sealer.seal(plaintext, ad: [], final: index == accounts.count - 1))
        }
        return out
    }

    // MARK: - Opening

    /// Opens a backup's bytes with `secret`, validating everything before returning: the header and its checksum,
    /// the key check, every chunk, the final tag, the record count, each record's fields, no name twice and no byte
    /// after the final chunk. Runs Argon2id for a passphrase backup (off the cooperative pool:
    /// ``read(from:secret:)``).
    /// - Throws: ``VaultError/Code/wrongKey`` when the header is intact but `secret` does not open it (or is of the
    ///   other kind); ``VaultError/Code/integrityFailure`` for anything damaged, truncated or extended.
    public static func open(_ bytes: [UInt8], with secret: BackupSecret) throws(VaultError) -> VaultBackup {
        guard bytes.count <= maximumFileSize else {
            throw .integrity("the backup is larger than \(maximumFileSize) bytes")
        }
        let (header, keyCheck) = try BackupHeader.parse(bytes)
        let keys = try BackupKeys.derive(secret, for: header)
        guard keys.keyCheck(of: header.fields()) == keyCheck.withUnsafeBytes({ SecureBytes(copying: $0) }) else {
            throw .wrongKey(
                "the backup \(secret.kind == .keyFile ? "key file" : "passphrase") does not open this backup"
            )
        }
        guard let opener = Sodium.SecretStreamOpener(header: header.streamHeader[...], key: keys.streamKey) else {
            throw .integrity("the backup's stream header is malformed")
        }
        let headerBytes = Array(bytes[0..<BackupHeader.size])
        let maximumChunk = maximumRecordSize + Sodium.secretStreamChunkOverhead
        var offset = BackupHeader.size
        var index = 0
        var manifest: BackupManifest?
        var accounts: [ImportedAccount] = []
        var names: Set<AccountName> = []
        var sawFinal = false
        while offset < bytes.count {
            let what = index == 0 ? "the manifest" : "record \(index)"
            guard !sawFinal else {
                throw .integrity("the backup has \(bytes.count - offset) byte(s) after its final record")
            }
            guard bytes.count - offset >= 4 else { throw .integrity("the backup is truncated inside \(what)") }
            let length = Int(bytes[offset..<(offset + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            offset += 4
            guard length >= Sodium.secretStreamChunkOverhead, length <= maximumChunk else {
                throw .integrity("the backup is damaged: \(what) has an impossible length \(length)")
            }
            guard bytes.count - offset >= length else { throw .integrity("the backup is truncated inside \(what)") }
            let chunk = bytes[offset..<(offset + length)]
            offset += length
            guard let (plaintext, isFinal) = opener.open(chunk, ad: index == 0 ? headerBytes : []) else {
                throw .integrity("the backup is damaged or was tampered with: \(what) does not authenticate")
            }
            sawFinal = isFinal
            if let manifest {
                guard accounts.count < manifest.accountCount else {
                    throw .integrity("the backup holds more records than its manifest announces")
                }
                let entry = try BackupRecord.decode(plaintext, what: what)
                guard names.insert(entry.account.name).inserted else {
                    throw .integrity("the backup holds '\(entry.account.name)' twice")
                }
                accounts.append(entry)
            } else {
                let decoded = try BackupManifest.decode(plaintext)
                // Each record takes at least its length and the stream's overhead: the file bounds the reservation.
                accounts.reserveCapacity(
                    min(decoded.accountCount, (bytes.count - offset) / (4 + Sodium.secretStreamChunkOverhead))
                )
                manifest = decoded
            }
            index += 1
        }
        guard sawFinal, let manifest else {
            throw .integrity("the backup is truncated: it ends before its final record")
        }
        guard accounts.count == manifest.accountCount else {
            throw .integrity(
                "the backup holds \(accounts.count) record(s) but its manifest announces \(manifest.accountCount)"
            )
        }
        return VaultBackup(accounts: accounts, sourceVaultID: manifest.sourceVaultID, exportedAt: manifest.exportedAt)
    }

    /// Reads and opens the backup file at `path` (``open(_:with:)``; the file read with ``BackupFile``'s bounds),
    /// the KDF on a blocking pool.
    /// - Throws: ``VaultError``: ``VaultError/Code/notFound`` when the file cannot be opened,
    ///   ``VaultError/Code/invalidInput`` when it is not a regular file, and what ``open(_:with:)`` throws.
    public static func read(from path: String, secret: BackupSecret) async throws -> VaultBackup {
        let bytes = try BackupFile.read(path)
        return try await Offload.run(expensive: secret.kind == .passphrase) { try open(bytes, with: secret) }
    }
}
