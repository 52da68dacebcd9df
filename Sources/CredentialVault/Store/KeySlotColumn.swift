/// The columns of the key slot table. `id` is assigned by the store.
public enum KeySlotColumn: String, StoreColumn {
    case id
    case kind
    case salt
    case opsLimit = "ops_limit"
    case memLimit = "mem_limit"
    case keyID = "key_id"
    case wrappedKey = "wrapped_key"
    case createdAt = "created_at"
    /// The operator's name for the slot (`key add --label`), or NULL. Authenticated by the slot's wrap.
    case label
    /// A key-file slot's non-secret fingerprint (``KeyFileKey/fingerprint``), or NULL. Authenticated by the wrap.
    case fingerprint

    /// The column's index in `allCases` (``StoreColumn/position``).
    public var position: Int {
        switch self {
        case .id: 0
        case .kind: 1
        case .salt: 2
        case .opsLimit: 3
        case .memLimit: 4
        case .keyID: 5
        case .wrappedKey: 6
        case .createdAt: 7
        case .label: 8
        case .fingerprint: 9
        }
    }
}
