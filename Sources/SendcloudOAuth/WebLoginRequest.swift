public import CredentialVault

/// What a backend asks ``WebLogin/start(_:binding:now:)`` for: which account (tenant) to authorize, with which OAuth
/// client, and where the browser comes back.
///
/// The client id, token URL, scopes, redirect URI and client secret together may have at most
/// ``WebLogin/maximumRequestBytes`` (2048) bytes, so that the state and the authorize URL stay short.
public struct WebLoginRequest: Sendable {
    /// The account to store the tokens under: a new one, or an existing one to re-authorize.
    public var account: AccountName
    /// The OAuth client id (the integration's public key).
    public var clientID: String
    /// The client secret, for a new account or to replace the stored one. `nil`: the account exists and its stored
    /// secret is used at completion (re-authorization); its stored client id and token URL must then be these.
    /// It travels inside the sealed state, never in clear.
    public var clientSecret: SecureBytes?
    /// Space-separated scopes; a refresh token needs `offline_access` (the default asks for `api offline_access`).
    public var scopes: String
    /// The token endpoint the code is exchanged at and the account will use (https, or http to loopback).
    public var tokenURL: String
    /// The backend's callback URL, registered with the OAuth client: https, or http to a loopback host for local
    /// development. The authorization server sends the browser there with `code` and `state`.
    public var redirectURI: String
    /// Whether an existing account of that name may be re-authorized (its secret, scopes and tokens replaced;
    /// status back to `ok`). Without it (the default) an existing account is refused
    /// (``VaultError/Code/alreadyExists``) at start and at completion; ``reauthorization(of:redirectURI:)`` sets it.
    public var mayReplace: Bool

    /// A request; the scopes default to `api offline_access`, the token URL to Sendcloud's, and an existing account
    /// is not replaced.
    public init(
        account: AccountName,
        clientID: String,
        clientSecret: SecureBytes?,
        redirectURI: String,
        scopes: String = "api offline_access",
        tokenURL: String = TokenURLPolicy.sendcloudTokenURL,
        mayReplace: Bool = false
    ) {
        self.account = account
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURI = redirectURI
        self.scopes = scopes
        self.tokenURL = tokenURL
        self.mayReplace = mayReplace
    }

    /// Re-authorization of a stored account (one marked `reauth-required`, say) with its own client id, token URL
    /// and scopes (`api offline_access` if it has none) and its stored client secret.
    public static func reauthorization(of account: Account, redirectURI: String) -> WebLoginRequest {
        WebLoginRequest(
            account: account.name,
            clientID: account.clientID,
            clientSecret: nil,
            redirectURI: redirectURI,
            scopes: account.scopes ?? "api offline_access",
            tokenURL: account.tokenURL,
            mayReplace: true
        )
    }
}
