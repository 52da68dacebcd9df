public import CredentialVault
public import Foundation

/// An OAuth 2.0 grant sent to the token endpoint.
public enum Grant: Sendable {
    /// `grant_type=client_credentials` with `scope` (Sendcloud API v3 uses `api`).
    case clientCredentials(scope: String?)
    /// `grant_type=authorization_code`, with the PKCE `code_verifier` when one was used.
    case authorizationCode(code: SecureBytes, redirectURI: String, codeVerifier: SecureBytes?)
    /// `grant_type=refresh_token`.
    case refreshToken(SecureBytes, scope: String?)

    /// The `grant_type` value.
    public var name: String {
        switch self {
        case .clientCredentials: "client_credentials"
        case .authorizationCode: "authorization_code"
        case .refreshToken: "refresh_token"
        }
    }
}

/// A successful token response. Token values are kept in ``SecureBytes``.
public struct TokenResponse: Sendable {
    /// `access_token`.
    public var accessToken: SecureBytes
    /// `token_type` (Sendcloud answers `bearer`).
    public var tokenType: String
    /// `expires_in` seconds, if given.
    public var expiresIn: Int64?
    /// `refresh_token`, when the server issued a new one.
    public var refreshToken: SecureBytes?
    /// `scope`, if given.
    public var scope: String?
    /// When the response was received; expiry is computed from it.
    public var receivedAt: Date

    /// `receivedAt + expiresIn`, or `nil` when the server gave no lifetime.
    public var expiresAt: Date? { expiresIn.map { receivedAt.addingTimeInterval(TimeInterval($0)) } }

    /// Creates a response value.
    public init(
        accessToken: SecureBytes,
        tokenType: String,
        expiresIn: Int64?,
        refreshToken: SecureBytes?,
        scope: String?,
        receivedAt: Date
    ) {
        self.accessToken = accessToken
        self.tokenType = tokenType
        self.expiresIn = expiresIn
        self.refreshToken = refreshToken
        self.scope = scope
        self.receivedAt = receivedAt
    }
}
