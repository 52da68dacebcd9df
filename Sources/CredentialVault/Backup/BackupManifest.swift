import Foundation

/// The first chunk of a backup: when it was made, the vault it came from and how many records follow (a reader
/// requires exactly that many).
struct BackupManifest {
    /// The most accounts a backup may hold: a hostile manifest cannot make a reader reserve more.
    static let maximumAccounts = 1_000_000

    var exportedAt: Date
    var sourceVaultID: [UInt8]
    var accountCount: Int

    func encoded() -> SecureBytes {
        var encoder = BackupEncoder()
        encoder.append(exportedAt)
        encoder.append(sourceVaultID)
        encoder.append(UInt32(accountCount))
        return encoder.finish()
    }

    static func decode(_ plaintext: SecureBytes) throws(VaultError) -> BackupManifest {
        var decoder = BackupDecoder(plaintext, what: "the manifest")
        let exportedAt = try decoder.date()
        let vaultID = try decoder.bytes()
        guard vaultID.count <= 64 else { throw decoder.malformed("the vault id is too long") }
        let count = Int(try decoder.uint32())
        guard count <= maximumAccounts else {
            throw decoder.malformed("it announces \(count) accounts (at most \(maximumAccounts))")
        }
        try decoder.finish()
        return BackupManifest(exportedAt: exportedAt, sourceVaultID: vaultID, accountCount: count)
    }
}
