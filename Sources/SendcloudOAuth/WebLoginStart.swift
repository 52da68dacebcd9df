public import Foundation

/// What ``WebLogin/start(_:binding:now:)`` returns: where to send the browser, and the sealed state the callback must
/// bring back.
public struct WebLoginStart: Sendable {
    /// The authorize URL to redirect the browser to (it carries ``state``, the PKCE challenge and the redirect URI).
    public var authorizeURL: String
    /// The sealed state (base64url), also inside ``authorizeURL``: opaque to everyone but the vault's instances.
    /// It is not a secret that unlocks anything by itself: it completes only with the browser binding it was started
    /// with, once, and with a code the authorization server issued for it. Keep it out of logs all the same.
    public var state: String
    /// When the state stops being accepted.
    public var expiresAt: Date

    /// A start with these values.
    public init(authorizeURL: String, state: String, expiresAt: Date) {
        self.authorizeURL = authorizeURL
        self.state = state
        self.expiresAt = expiresAt
    }
}
