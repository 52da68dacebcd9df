import Foundation

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
