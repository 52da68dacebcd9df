public import CredentialVault
import Foundation

/// One browser authorization (authorization code + PKCE S256, RFC 7636; loopback redirect, RFC 8252).
///
/// Holds a random `state` and a 43-character code verifier; builds the authorize URL and checks the redirect.
public struct AuthorizationSession: Sendable {
    /// The random `state` sent with the request and expected back.
    public let state: String
    /// The PKCE code verifier (43 characters of base64url from 32 random bytes).
    public let codeVerifier: SecureBytes
    /// `BASE64URL(SHA256(codeVerifier))`.
    public let codeChallenge: String
    /// Where the browser is sent back.
    public let redirectURI: String

    /// A new session with fresh random state and verifier.
    public init(redirectURI: String) {
        self.redirectURI = redirectURI
        state = Self.base64URL(SecureBytes.random(count: 16))
        let verifier = SecureBytes(utf8: Self.base64URL(SecureBytes.random(count: 32)))
        codeVerifier = verifier
        codeChallenge = verifier.withUnsafeBytes { Self.base64URL(bytes: Sodium.sha256($0)) }
    }

    /// The URL to open in a browser. `authorizeURL` must pass ``TokenURLPolicy/validate(_:)``.
    public func authorizeURL(base authorizeURL: String, clientID: String, scope: String) throws(OAuthError) -> String {
        try TokenURLPolicy.validate(authorizeURL)
        let query = FormEncoding.query([
            ("response_type", "code"), ("client_id", clientID), ("redirect_uri", redirectURI), ("scope", scope),
            ("state", state), ("code_challenge", codeChallenge), ("code_challenge_method", "S256"),
        ])
        return authorizeURL + (authorizeURL.contains("?") ? "&" : "?") + query
    }

    /// The authorization code from the redirect's query parameters, after checking `state` (constant time).
    /// Throws ``OAuthError/Code/authorizationFailed`` on a mismatched state or an error redirect.
    public func code(from parameters: [String: String]) throws(OAuthError) -> SecureBytes {
        if let error = parameters["error"] {
            let description = parameters["error_description"].map { ": " + TokenResponseParser.sanitized($0) } ?? ""
            throw OAuthError(
                .authorizationFailed,
                "authorization was refused: \(TokenResponseParser.sanitized(error))\(description)"
            )
        }
        guard let returned = parameters["state"], SecureBytes(utf8: returned) == SecureBytes(utf8: state) else {
            throw OAuthError(.authorizationFailed, "the redirect's state does not match this login; nothing was stored")
        }
        guard let code = parameters["code"], !code.isEmpty else {
            throw OAuthError(.authorizationFailed, "the redirect carries no authorization code")
        }
        return SecureBytes(utf8: code)
    }

    static func base64URL(_ bytes: SecureBytes) -> String { bytes.withUnsafeBytes { base64URL(bytes: Array($0)) } }

    static func base64URL(bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(
            of: "/",
            with: "_"
        )
        .replacingOccurrences(of: "=", with: "")
    }
}
