import Foundation

/// Whether an account can obtain tokens.
public enum AccountStatus: String, Sendable, Codable {
    /// Usable.
    case ok
    /// The server rejected the grant (`invalid_grant`): the merchant must authorize again.
    case reauthRequired = "reauth-required"
}
