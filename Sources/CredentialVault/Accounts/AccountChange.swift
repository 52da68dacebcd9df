/// What ``CredentialVault/changeAccount(named:_:lockTimeout:)`` changes on an account; `nil` leaves a field as it
/// is. The mode and the name never change (remove and add for that).
public struct AccountChange: Sendable {
    /// A new OAuth client id.
    public var clientID: String?
    /// A new client secret (after a rotation in the Sendcloud panel).
    public var clientSecret: SecureBytes?
    /// A new refresh token (one obtained elsewhere); only for `refresh-token` accounts.
    public var refreshToken: SecureBytes?
    /// A new token endpoint URL (the caller checks it is acceptable: the vault stores what it is given).
    public var tokenURL: String?
    /// New scopes; an empty string removes them (the grant's default applies again).
    public var scopes: String?

    /// A change of the given fields.
    public init(
        clientID: String? = nil,
        clientSecret: SecureBytes? = nil,
        refreshToken: SecureBytes? = nil,
        tokenURL: String? = nil,
        scopes: String? = nil
    ) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.refreshToken = refreshToken
        self.tokenURL = tokenURL
        self.scopes = scopes
    }

    /// Whether nothing would change.
    public var isEmpty: Bool {
        clientID == nil && clientSecret == nil && refreshToken == nil && tokenURL == nil && scopes == nil
    }
}
