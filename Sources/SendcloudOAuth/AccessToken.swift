public import CredentialVault
public import Foundation

/// A valid access token handed out by ``TokenProvider``.
public struct AccessToken: Sendable, CustomStringConvertible {
    /// The account it belongs to.
    public var account: AccountName
    /// The token.
    public var value: SecureBytes
    /// When it expires, if known.
    public var expiresAt: Date?
    /// Whether this call obtained it from the server (as opposed to the vault).
    public var obtainedFromServer: Bool
    /// When the server issued it (the account's last refresh), if known.
    public var obtainedAt: Date?

    /// Creates a token value.
    public init(
        account: AccountName,
        value: SecureBytes,
        expiresAt: Date?,
        obtainedFromServer: Bool,
        obtainedAt: Date? = nil
    ) {
        self.account = account
        self.value = value
        self.expiresAt = expiresAt
        self.obtainedFromServer = obtainedFromServer
        self.obtainedAt = obtainedAt
    }

    /// `Bearer <token>`: the `Authorization` header value (an edge where the secret becomes a `String`).
    public var authorizationHeaderValue: String { "Bearer " + (value.unsafeStringValue() ?? "") }

    /// Names the account and expiry, never the token.
    public var description: String {
        "AccessToken(account: \(account), expiresAt: \(expiresAt.map { "\($0)" } ?? "unknown"), value: <redacted>)"
    }
}
