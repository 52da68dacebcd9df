/// The columns of the account table. The name is the key; the three sealed columns hold ``SealedValue`` bytes.
public enum AccountColumn: String, StoreColumn {
    case name
    case mode
    case clientID = "client_id"
    case scopes
    case tokenURL = "token_url"
    case keyID = "key_id"
    case clientSecret = "client_secret"
    case refreshToken = "refresh_token"
    case accessToken = "access_token"
    case accessTokenExpiresAt = "access_token_expires_at"
    case status
    case lastError = "last_error"
    case generation
    case createdAt = "created_at"
    case updatedAt = "updated_at"
    case refreshedAt = "refreshed_at"
    case nextAttemptAt = "next_attempt_at"
    case consecutiveFailures = "consecutive_failures"

    /// The columns holding sealed values.
    public static let sealed: [AccountColumn] = [.clientSecret, .refreshToken, .accessToken]
    /// Every column but the sealed ones: what scheduling queries read.
    public static let metadata: [AccountColumn] = allCases.filter { !sealed.contains($0) }

    /// The sealed column of `field`.
    public static func sealed(_ field: SecretField) -> AccountColumn {
        switch field {
        case .clientSecret: .clientSecret
        case .refreshToken: .refreshToken
        case .accessToken: .accessToken
        }
    }

    /// The column's index in `allCases` (``StoreColumn/position``).
    public var position: Int {
        switch self {
        case .name: 0
        case .mode: 1
        case .clientID: 2
        case .scopes: 3
        case .tokenURL: 4
        case .keyID: 5
        case .clientSecret: 6
        case .refreshToken: 7
        case .accessToken: 8
        case .accessTokenExpiresAt: 9
        case .status: 10
        case .lastError: 11
        case .generation: 12
        case .createdAt: 13
        case .updatedAt: 14
        case .refreshedAt: 15
        case .nextAttemptAt: 16
        case .consecutiveFailures: 17
        }
    }
}
