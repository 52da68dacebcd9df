/// The columns of the vault's one header row.
public enum VaultHeaderColumn: String, StoreColumn {
    case vaultID = "vault_id"
    case formatVersion = "format_version"
    case keyID = "key_id"
    case createdAt = "created_at"
    /// Where the vault was created (or last recorded): ``CredentialStore/storageLocation``. Nullable (vaults made
    /// before it was recorded).
    case location = "location"

    /// The column's index in `allCases` (``StoreColumn/position``).
    public var position: Int {
        switch self {
        case .vaultID: 0
        case .formatVersion: 1
        case .keyID: 2
        case .createdAt: 3
        case .location: 4
        }
    }
}
