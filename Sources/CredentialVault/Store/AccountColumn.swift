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
}
