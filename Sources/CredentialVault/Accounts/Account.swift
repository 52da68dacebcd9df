public import Foundation

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
    /// After a failure, the refresher leaves the account alone until then (``DueAccountQuery``). Scheduling data,
    /// not authenticated: a tampered value can only delay or hasten a refresh, and every refresh authenticates the
    /// record before anything is sent.
    public var nextAttemptAt: Date?
    /// How many refreshes in a row have failed (0 after a success): what the refresher's backoff grows with.
    /// Scheduling data like ``nextAttemptAt``, not authenticated. Always between 0 and
    /// ``maximumConsecutiveFailures`` (a value outside is clamped when set); a stored value outside that range is an
    /// integrity failure.
    public var consecutiveFailures: Int {
        didSet { consecutiveFailures = Self.clampedFailures(consecutiveFailures) }
    }

    /// The largest ``consecutiveFailures`` a record holds (a count beyond it is stored as this).
    public static let maximumConsecutiveFailures = 1_000_000

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
        storedFields: Set<SecretField> = [],
        nextAttemptAt: Date? = nil,
        consecutiveFailures: Int = 0
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
        self.nextAttemptAt = nextAttemptAt
        self.consecutiveFailures = Self.clampedFailures(consecutiveFailures)
    }

    private static func clampedFailures(_ count: Int) -> Int { min(max(count, 0), maximumConsecutiveFailures) }
}
