import Foundation

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
