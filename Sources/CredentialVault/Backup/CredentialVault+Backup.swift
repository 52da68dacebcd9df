public import Foundation
import Logging

/// What ``CredentialVault/exportBackup(to:secret:limits:overwrite:lockTimeout:)`` wrote.
public struct BackupSummary: Sendable, Equatable {
    /// The file written.
    public var path: String
    /// The accounts in the backup, by name.
    public var accounts: [AccountName]
    /// The size of the file in bytes.
    public var byteCount: Int
    /// The kind of secret it is sealed under.
    public var secretKind: BackupSecret.Kind
    /// When the snapshot was taken.
    public var exportedAt: Date
}

extension CredentialVault {
    /// A snapshot of every account — metadata, status, generation and opened secrets — taken under
    /// every account's lock (``CredentialStore/withEveryAccountLock(timeout:isolation:_:)``), so that a refresh in
    /// flight in any process commits its rotated tokens first and the snapshot holds the newest ones.
    /// - Throws: ``VaultError/Code/integrityFailure`` naming the first account whose record does not open (a damaged
    ///   account is never left out silently), ``VaultError/Code/lockTimeout``.
    public func backup(lockTimeout: Duration = .seconds(60)) async throws -> VaultBackup {
        try await store.withEveryAccountLock(timeout: lockTimeout) {
            var records = try await store.accounts()
            if records.contains(where: { $0.keyID != dataKey.id }), try await reloadKeyIfRotated() {
                records = try await store.accounts()
            }
            let key = dataKey
            var entries: [ImportedAccount] = []
            entries.reserveCapacity(records.count)
            for record in records {
                entries.append(ImportedAccount(account: record.account, secrets: try open(record, with: key)))
            }
            return VaultBackup(accounts: entries, sourceVaultID: vaultID)
        }
    }

    /// Exports every account (``backup(lockTimeout:)``) into a sealed backup file at `path` (``VaultBackup``),
    /// written atomically, mode 0600.
    ///
    /// The directory must not be writable by group or others unless sticky; without `overwrite` an existing `path`
    /// is refused — both checked before the snapshot, and the no-overwrite rule enforced again when the file takes
    /// its name.
    /// - Parameters:
    ///   - secret: the backup's own secret.
    ///   - limits: the Argon2id limits for a passphrase (ignored for a key).
    ///   - overwrite: replace an existing regular file at `path`.
    /// - Throws: ``VaultError``: ``VaultError/Code/alreadyExists``, ``VaultError/Code/unsafePermissions``,
    ///   ``VaultError/Code/notFound`` (no such directory), ``VaultError/Code/storage``, and what ``backup(lockTimeout:)``
    ///   throws. Nothing is written when it throws.
    @discardableResult
    public func exportBackup(
        to path: String,
        secret: BackupSecret,
        limits: KDFLimits = .interactive,
        overwrite: Bool = false,
        lockTimeout: Duration = .seconds(60)
    ) async throws -> BackupSummary {
        try BackupFile.checkWritable(path, overwrite: overwrite)
        let backup = try await backup(lockTimeout: lockTimeout)
        let bytes = try await Offload.run(expensive: secret.kind == .passphrase) {
            try backup.sealed(with: secret, limits: limits)
        }
        try BackupFile.write(bytes, to: path, overwrite: overwrite)
        logger.info(
            "backup exported",
            metadata: ["accounts": "\(backup.accounts.count)", "secret": "\(secret.kind)"]
        )
        return BackupSummary(
            path: path,
            accounts: backup.accounts.map(\.account.name),
            byteCount: bytes.count,
            secretKind: secret.kind,
            exportedAt: backup.exportedAt
        )
    }
}
