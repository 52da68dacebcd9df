public import Foundation

/// How an account authenticates against Sendcloud.
public enum AccountMode: String, Sendable, CaseIterable, Codable {
    /// `grant_type=client_credentials` with HTTP Basic client auth; "refresh" re-runs the grant.
    case clientCredentials = "client-credentials"
    /// `authorization_code` once (or an imported refresh token), then rotating `refresh_token` grants.
    case refreshToken = "refresh-token"
    /// No OAuth: HTTP Basic with the key pair on every API call.
    case basic
}

/// Whether an account can obtain tokens.
public enum AccountStatus: String, Sendable, Codable {
    /// Usable.
    case ok
    /// The server rejected the grant (`invalid_grant`): the merchant must authorize again.
    case reauthRequired = "reauth-required"
}

/// The secret fields of an account. Each is sealed separately, bound to its account and field.
public enum SecretField: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The OAuth client secret (Sendcloud secret key).
    case clientSecret = 1
    /// The rotating refresh token.
    case refreshToken = 2
    /// The current access token.
    case accessToken = 3

    /// `client_secret`, `refresh_token` or `access_token`.
    public var description: String {
        switch self {
        case .clientSecret: "client_secret"
        case .refreshToken: "refresh_token"
        case .accessToken: "access_token"
        }
    }
}

/// An account's metadata: everything but the secrets. Safe to log and print.
public struct Account: Sendable, Equatable {
    /// The tenant's name in this vault.
    public var name: AccountName
    /// The authentication mode.
    public var mode: AccountMode
    /// The OAuth client id (Sendcloud public key). Not a secret.
    public var clientID: String
    /// Space-separated OAuth scopes, if any were chosen.
    public var scopes: String?
    /// The token endpoint this account uses.
    public var tokenURL: String
    /// When the stored access token expires, if one is stored.
    public var accessTokenExpiresAt: Date?
    /// Whether the account can obtain tokens.
    public var status: AccountStatus
    /// The last refresh error (the server's description), if any.
    public var lastError: String?
    /// Incremented by every write; writes are compare-and-swap on it.
    public var generation: Int64
    /// When the account was added.
    public var createdAt: Date
    /// When the account was last written.
    public var updatedAt: Date
    /// When tokens were last obtained.
    public var refreshedAt: Date?
    /// Which secret fields hold a value.
    public var storedFields: Set<SecretField>

    /// Creates metadata; the vault fills in generation and timestamps when the account is added.
    public init(
        name: AccountName,
        mode: AccountMode,
        clientID: String,
        scopes: String? = nil,
        tokenURL: String,
        accessTokenExpiresAt: Date? = nil,
        status: AccountStatus = .ok,
        lastError: String? = nil,
        generation: Int64 = 0,
        createdAt: Date = Date(),
        updatedAt: Date = Date(),
        refreshedAt: Date? = nil,
        storedFields: Set<SecretField> = []
    ) {
        self.name = name
        self.mode = mode
        self.clientID = clientID
        self.scopes = scopes
        self.tokenURL = tokenURL
        self.accessTokenExpiresAt = accessTokenExpiresAt
        self.status = status
        self.lastError = lastError
        self.generation = generation
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.refreshedAt = refreshedAt
        self.storedFields = storedFields
    }
}

/// An account's opened secrets. Each value lives in a ``SecureBytes`` that is wiped when released.
public struct AccountSecrets: Sendable {
    /// The client secret (Sendcloud secret key).
    public var clientSecret: SecureBytes?
    /// The refresh token.
    public var refreshToken: SecureBytes?
    /// The access token.
    public var accessToken: SecureBytes?

    /// Creates a set of secrets.
    public init(clientSecret: SecureBytes? = nil, refreshToken: SecureBytes? = nil, accessToken: SecureBytes? = nil) {
        self.clientSecret = clientSecret
        self.refreshToken = refreshToken
        self.accessToken = accessToken
    }

    /// The value of `field`.
    public subscript(field: SecretField) -> SecureBytes? {
        get {
            switch field {
            case .clientSecret: clientSecret
            case .refreshToken: refreshToken
            case .accessToken: accessToken
            }
        }
        set {
            switch field {
            case .clientSecret: clientSecret = newValue
            case .refreshToken: refreshToken = newValue
            case .accessToken: accessToken = newValue
            }
        }
    }
}

extension AccountSecrets: CustomStringConvertible, CustomReflectable {
    /// Names the fields present, never their values.
    public var description: String {
        let present = SecretField.allCases.filter { self[$0] != nil }.map(\.description)
        return "AccountSecrets(\(present.joined(separator: ", ")): <redacted>)"
    }
    /// No children: `dump` shows nothing of the values.
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

/// An account as a store keeps it: metadata in clear, secrets sealed. Stores never see plaintext secrets.
public struct StoredAccount: Sendable, Equatable {
    /// The bound of generations (2^62): far beyond any real count of writes, and far enough from `Int64.max` that
    /// incrementing never overflows. A row outside `1..<maximumGeneration` is malformed, so that every decoded
    /// record can be written once more.
    public static let maximumGeneration: Int64 = 1 << 62

    /// The metadata columns (``Account/storedFields`` is derived from ``sealed``).
    public var account: Account
    /// The data key that sealed the values.
    public var keyID: UInt32
    /// The sealed values by field.
    public var sealed: [SecretField: SealedValue]

    /// Creates a stored record.
    public init(account: Account, keyID: UInt32, sealed: [SecretField: SealedValue]) {
        self.account = account
        self.keyID = keyID
        self.sealed = sealed
        self.account.storedFields = Set(sealed.keys)
    }
}
