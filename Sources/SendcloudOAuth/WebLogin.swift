public import CredentialVault
public import Foundation
import Logging

/// Authorization code + PKCE (S256) for backends whose callback may land on any instance: nothing is kept in memory
/// between ``start(_:now:)`` and ``complete(callback:now:)``.
///
/// ``start(_:now:)`` returns the authorize URL and a `state` that is the login itself, sealed by the vault
/// (``CredentialVault/sealState(_:purpose:expiresAt:)``): the account name, client id, token URL, scopes, redirect
/// URI, PKCE verifier, the client secret if one was given, an expiry and a random nonce. ``complete(callback:now:)``,
/// on any instance of the vault (another process or host with a ``CredentialVault`` opened on the same store and
/// unlocked with a key of it):
///
/// 1. opens the state — a state of another vault, of another purpose, altered, truncated or expired is refused;
/// 2. refuses an error redirect (`error=access_denied`, …) — the state stays unused, so the browser may try again;
/// 3. claims the state's nonce once across every instance (``CredentialVault/claimSingleUse(_:until:)``): a state
///    is used for at most one code exchange, whatever its outcome, and a replayed or concurrent callback is refused
///    before it reaches the token endpoint;
/// 4. exchanges the code with the verifier (``TokenProvider/authorize(_:clientSecret:code:redirectURI:codeVerifier:mayReplace:)``)
///    and stores the account with its tokens, or re-authorizes the existing one.
///
/// Errors about the state, the callback or the exchange are ``OAuthError/Code/authorizationFailed``; their messages
/// never contain a secret, the state or what it carries. The vault's own failures (store unreachable, an existing
/// account without `mayReplace`) are ``VaultError``s.
///
/// Rotating the vault's data key invalidates the states in flight: their logins fail and must be started again.
///
/// ```swift
/// let login = WebLogin(provider: provider)
/// // GET /connect?tenant=…
/// let start = try await login.start(
///     WebLoginRequest(account: tenant, clientID: clientID, clientSecret: secret, redirectURI: callbackURL)
/// )
/// // redirect the browser to start.authorizeURL; then, on any instance, GET /callback?code=…&state=…
/// let account = try await login.complete(callback: queryParameters)
/// ```
public struct WebLogin: Sendable {
    /// Web login settings.
    public struct Configuration: Sendable {
        /// The authorization server's authorize endpoint; Sendcloud's by default.
        public var authorizeURL: String = TokenURLPolicy.sendcloudAuthorizeURL
        /// How long a state is accepted after ``WebLogin/start(_:now:)`` (whole seconds; default 10 minutes).
        public var stateLifetime: Duration = .seconds(600)

        /// The defaults.
        public init() {}
    }

    /// The `purpose` the states are sealed for (``CredentialVault/sealState(_:purpose:expiresAt:)``).
    public static let statePurpose = "sendcloud-oauth/web-login/v1"

    /// The provider that exchanges the code and stores the account; its vault seals the states.
    public let provider: TokenProvider
    /// The settings in use.
    public let configuration: Configuration

    /// A web login over `provider`.
    public init(provider: TokenProvider, configuration: Configuration = Configuration()) {
        self.provider = provider
        self.configuration = configuration
    }

    /// Begins a login: returns the authorize URL to send the browser to and the sealed state inside it.
    ///
    /// Checks what can be checked now: the token, authorize and redirect URLs (https, or http to loopback); with no
    /// client secret, that the account exists with this client id and token URL; without `mayReplace`, that it does
    /// not exist yet (checked again at completion, under the account's lock).
    ///
    /// - Throws: ``OAuthError`` (``OAuthError/Code/insecureTokenURL``, ``OAuthError/Code/authorizationFailed``) or
    ///   ``VaultError`` (``VaultError/Code/alreadyExists``, store failures).
    public func start(_ request: WebLoginRequest, now: Date = Date()) async throws -> WebLoginStart {
        try TokenURLPolicy.validate(request.tokenURL)
        try TokenURLPolicy.validate(configuration.authorizeURL)
        do {
            try TokenURLPolicy.validate(request.redirectURI)
        } catch {
            throw OAuthError(
                .insecureTokenURL,
                "the redirect URI must be an absolute https URL (plain http only for loopback hosts)"
            )
        }
        guard
            [request.clientID, request.tokenURL, request.scopes, request.redirectURI].allSatisfy({
                $0.utf8.count <= 4096
            })
        else {
            throw OAuthError(.authorizationFailed, "the client id, token URL, scopes or redirect URI is too long")
        }
        if let secret = request.clientSecret {
            guard !secret.isEmpty, secret.count <= 4096 else {
                throw OAuthError(.authorizationFailed, "the client secret must have 1 to 4096 bytes")
            }
        }
        try await checkAccount(for: request)

        let lifetime = max(0, configuration.stateLifetime.components.seconds)
        let expiresAt = Int64(now.timeIntervalSince1970.rounded(.down)) + lifetime
        let verifier = Self.makeCodeVerifier()
        let content = WebLoginState(
            nonce: SecureBytes.random(count: WebLoginState.nonceBytes).withUnsafeBytes { Array($0) },
            expiresAt: expiresAt,
            request: request,
            codeVerifier: verifier
        )
        let state = try await provider.vault.sealState(
            content.encoded(),
            purpose: Self.statePurpose,
            expiresAt: content.expiryDate
        )
        let challenge = verifier.withUnsafeBytes { AuthorizationSession.base64URL(bytes: Sodium.sha256($0)) }
        let query = FormEncoding.query([
            ("response_type", "code"), ("client_id", request.clientID), ("redirect_uri", request.redirectURI),
            ("scope", request.scopes), ("state", state), ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ])
        let base = configuration.authorizeURL
        provider.logger.debug("web login started", metadata: ["account": "\(request.account)"])
        return WebLoginStart(
            authorizeURL: base + (base.contains("?") ? "&" : "?") + query,
            state: state,
            expiresAt: content.expiryDate
        )
    }

    /// Completes a login from the callback's query parameters (`code` and `state`, or `error` and `state`) and
    /// returns the stored account. Any instance of the vault may complete a login that another started.
    ///
    /// - Throws: ``OAuthError/Code/authorizationFailed`` for a missing, invalid, expired or already used state, an
    ///   error redirect, a missing code, or a failed exchange (the server's `error`, sanitised, is in the message
    ///   and in ``OAuthError/oauthError``); ``VaultError`` for the vault's own failures.
    public func complete(callback parameters: [String: String], now: Date = Date()) async throws -> Account {
        guard let sealed = parameters["state"], !sealed.isEmpty else {
            throw OAuthError(.authorizationFailed, "the callback carries no state; nothing was stored")
        }
        let opened: SecureBytes
        do {
            opened = try await provider.vault.openState(sealed, purpose: Self.statePurpose, now: now)
        } catch let error as VaultError where error.code == .invalidInput {
            throw OAuthError(
                .authorizationFailed,
                "the login's state was refused (\(error.message)); nothing was stored, start the login again"
            )
        }
        guard let login = WebLoginState(decoding: opened) else {
            throw OAuthError(.authorizationFailed, "the login's state is of an unknown format; start the login again")
        }
        if let refusal = parameters["error"] {
            let description = parameters["error_description"].map { ": " + TokenResponseParser.sanitized($0) } ?? ""
            throw OAuthError(
                .authorizationFailed,
                "authorization was refused: \(TokenResponseParser.sanitized(refusal))\(description); nothing was stored",
                oauthError: TokenResponseParser.sanitized(refusal)
            )
        }
        guard let code = parameters["code"], !code.isEmpty else {
            throw OAuthError(.authorizationFailed, "the callback carries no authorization code; nothing was stored")
        }
        let claimKey = Sodium.sha256(Array("sendcloud-oauth/web-login/nonce/v1".utf8) + [0] + login.nonce)
        guard try await provider.vault.claimSingleUse(claimKey, until: login.expiryDate) else {
            provider.logger.notice("web login state presented again", metadata: ["account": "\(login.account)"])
            throw OAuthError(
                .authorizationFailed,
                "this login's state has been used already; nothing was stored, start the login again"
            )
        }
        let clientSecret = try await clientSecret(for: login)
        let account: Account
        do {
            account = try await provider.authorize(
                Account(
                    name: login.account,
                    mode: .refreshToken,
                    clientID: login.clientID,
                    scopes: login.scopes.isEmpty ? nil : login.scopes,
                    tokenURL: login.tokenURL
                ),
                clientSecret: clientSecret,
                code: SecureBytes(utf8: code),
                redirectURI: login.redirectURI,
                codeVerifier: login.codeVerifier,
                mayReplace: login.mayReplace
            )
        } catch let error as OAuthError {
            throw OAuthError(
                .authorizationFailed,
                "the authorization code could not be exchanged (\(error.code)): \(error.message)",
                httpStatus: error.httpStatus,
                oauthError: error.oauthError,
                underlying: error
            )
        }
        provider.logger.info("web login completed", metadata: ["account": "\(account.name)"])
        return account
    }

    /// ``complete(callback:now:)`` from the callback's raw query string (`code=…&state=…`; the first value of a
    /// repeated name counts).
    public func complete(query: String, now: Date = Date()) async throws -> Account {
        var parameters: [String: String] = [:]
        for (name, value) in FormEncoding.decode(Substring(query)) where parameters[name] == nil {
            parameters[name] = value
        }
        return try await complete(callback: parameters, now: now)
    }

    // MARK: - Internals

    /// The checks of ``start(_:now:)`` that read the vault.
    private func checkAccount(for request: WebLoginRequest) async throws {
        let existing: Account?
        do {
            existing = try await provider.vault.account(named: request.account)
        } catch let error as VaultError where error.code == .notFound {
            existing = nil
        }
        if let existing, !request.mayReplace {
            throw VaultError.alreadyExists(existing.name)
        }
        guard request.clientSecret == nil else { return }
        guard let existing else {
            throw OAuthError(
                .authorizationFailed,
                "no account named '\(request.account)' exists: a new account needs its client secret"
            )
        }
        guard existing.clientID == request.clientID, existing.tokenURL == request.tokenURL else {
            throw OAuthError(
                .authorizationFailed,
                "'\(request.account)' is stored with another client id or token URL: give the client secret to "
                    + "replace them"
            )
        }
    }

    /// The state's client secret, else the stored one — only for the client id and token URL it is stored with.
    private func clientSecret(for login: WebLoginState) async throws -> SecureBytes {
        if let secret = login.clientSecret { return secret }
        let stored: (account: Account, secrets: AccountSecrets)
        do {
            stored = try await provider.vault.openAccount(named: login.account)
        } catch let error as VaultError where error.code == .notFound {
            throw OAuthError(
                .authorizationFailed,
                "the account was removed during the login, and the login carries no client secret"
            )
        }
        guard stored.account.clientID == login.clientID, stored.account.tokenURL == login.tokenURL,
            let secret = stored.secrets.clientSecret
        else {
            throw OAuthError(
                .authorizationFailed,
                "the account's client id or token URL changed during the login; start the login again"
            )
        }
        return secret
    }

    /// 43 characters of base64url from 32 random bytes (RFC 7636 §4.1), built in wipeable buffers.
    static func makeCodeVerifier() -> SecureBytes {
        let encoded = SecureBytes.random(count: 32).base64Encoded()  // 44 characters, the last one "="
        return SecureBytes(count: 43) { out in
            encoded.withUnsafeBytes { source in
                for index in 0..<43 {
                    switch source[index] {
                    case UInt8(ascii: "+"): out[index] = UInt8(ascii: "-")
                    case UInt8(ascii: "/"): out[index] = UInt8(ascii: "_")
                    case let byte: out[index] = byte
                    }
                }
            }
        }
    }
}
