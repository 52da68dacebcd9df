import Foundation

/// How an account authenticates against Sendcloud.
public enum AccountMode: String, Sendable, CaseIterable, Codable {
    /// `grant_type=client_credentials` with HTTP Basic client auth; "refresh" re-runs the grant.
    case clientCredentials = "client-credentials"
    /// `authorization_code` once (or an imported refresh token), then rotating `refresh_token` grants.
    case refreshToken = "refresh-token"
    /// No OAuth: HTTP Basic with the key pair on every API call.
    case basic
}
