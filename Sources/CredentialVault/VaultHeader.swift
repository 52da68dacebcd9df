public import Foundation

/// The vault-wide record: its id (bound into every sealed value) and the current data key id.
public struct VaultHeader: Sendable, Equatable {
    /// The on-disk format this package writes: 2, in which every sealed value also authenticates its account's
    /// metadata (1: values bound to vault, account, field and key only).
    public static let currentFormatVersion = 2
    /// The formats this package opens; earlier ones are upgraded at unlock (``CredentialVault/upgradeFormat()``).
    public static let supportedFormatVersions = 1...currentFormatVersion

    /// 16 random bytes naming the vault; part of every associated data.
    public var vaultID: [UInt8]
    /// The format version.
    public var formatVersion: Int
    /// The id of the data key that seals the records.
    public var keyID: UInt32
    /// When the vault was created.
    public var createdAt: Date
    /// Where the vault was created or last recorded (``CredentialStore/storageLocation``), `nil` for a vault made
    /// before locations were recorded. Not authenticated: it only decides whether ``CredentialVault/verify()`` warns
    /// that the vault may be a copy.
    public var location: String?

    /// Creates a header.
    public init(vaultID: [UInt8], formatVersion: Int, keyID: UInt32, createdAt: Date, location: String? = nil) {
        self.vaultID = vaultID
        self.formatVersion = formatVersion
        self.keyID = keyID
        self.createdAt = createdAt
        self.location = location
    }
}
