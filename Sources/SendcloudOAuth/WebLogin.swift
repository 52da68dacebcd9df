public import CredentialVault
public import Foundation
import Logging

/// Authorization code + PKCE (S256) for backends whose callback may land on any instance: nothing is kept in memory
/// between ``start(_:binding:now:)`` and ``complete(callback:binding:now:)``.
///
/// ``start(_:binding:now:)`` returns the authorize URL and a `state` that is the login itself, sealed by the vault
/// (``CredentialVault/sealState(_:purpose:expiresAt:)``): the account name, client id, token URL, scopes, redirect
/// URI, PKCE verifier, the client secret if one was given, a hash of the browser binding, an expiry and a random
/// nonce. ``complete(callback:binding:now:)``, on any instance of the vault (another process or host with a
/// ``CredentialVault`` opened on the same store and unlocked with a key of it):
///
/// 1. opens the state — a state of another vault, of another purpose, altered, truncated or expired is refused;
/// 2. refuses a binding other than the one the login was started with — the state stays unused, so the browser
///    that started the login can still complete it;
/// 3. refuses an error redirect (`error=access_denied`, …) — the state stays unused, so the browser may try again;
/// 4. claims the state's nonce once across every instance (``CredentialVault/claimSingleUse(_:until:)``): a state
///    is used for at most one code exchange, whatever its outcome, and a replayed or concurrent callback is refused
///    before it reaches the token endpoint;
/// 5. exchanges the code with the verifier (``TokenProvider/authorize(_:clientSecret:code:redirectURI:codeVerifier:mayReplace:)``)
///    and stores the account with its tokens, or re-authorizes the existing one.
///
/// ## The browser binding
///
/// Every login is bound to the browser session that started it, so that nobody can have a login completed in
/// someone else's browser (login CSRF: an attacker's own authorize URL, or a leaked one, completed by a victim — or
/// by the attacker logged into their own Sendcloud — would store that Sendcloud account's tokens under the tenant).
/// The binding is a value that only that browser brings to the callback: a random value of at least 16 bytes
/// (``makeBinding()``) in a cookie the backend sets at `/connect` — `HttpOnly`, `Secure`, `SameSite=Lax` (the
/// callback is a top-level navigation from the authorization server) — or the server-side session id of a
/// logged-in user. ``start(_:binding:now:)`` seals its SHA-256 (under a label of its own) into the state;
/// ``complete(callback:binding:now:)`` refuses a binding whose hash differs before it claims the state or contacts
/// the token endpoint.
///
/// Errors about the state, the binding, the callback or the exchange are ``OAuthError/Code/authorizationFailed``;
/// their messages never contain a secret, the binding, the state or what it carries. The vault's own failures (store
/// unreachable, an existing account without `mayReplace`) are ``VaultError``s.
///
/// Rotating the vault's data key invalidates the states in flight: their logins fail and must be started again.
///
/// ```swift
/// let login = WebLogin(provider: provider)
/// // GET /connect?tenant=…: a new binding, in a cookie (HttpOnly, Secure, SameSite=Lax) on the redirect
/// let binding = WebLogin.makeBinding()
/// let start = try await login.start(
///     WebLoginRequest(account: tenant, clientID: clientID, clientSecret: secret, redirectURI: callbackURL),
///     binding: SecureBytes(utf8: binding)
/// )
/// // redirect the browser to start.authorizeURL; then, on any instance, GET /callback?code=…&state=…
/// let account = try await login.complete(callback: queryParameters, binding: SecureBytes(utf8: cookieValue))
/// ```
public struct WebLogin: Sendable {
    /// Web login settings.
    public struct Configuration: Sendable {
        /// The authorization server's authorize endpoint; Sendcloud's by default.
        public var authorizeURL: String = TokenURLPolicy.sendcloudAuthorizeURL
        /// How long a state is accepted after ``WebLogin/start(_:binding:now:)`` (whole seconds; default 10 minutes).
        public var stateLifetime: Duration = .seconds(600)  // used up to a day

        /// The defaults.
        public init() {}
    }

    /// The `purpose` the states are sealed for (``CredentialVault/sealState(_:purpose:expiresAt:)``).
    public static let statePurpose = "sendcloud-oauth/web-login/v1"

    /// The shortest browser binding accepted, in bytes.
    public static let minimumBindingBytes = 16

    /// The most bytes that a request's client id, token URL, scopes, redirect URI and client secret may have
    /// together: the state and the authorize URL must stay well within what browsers and servers accept in a URL.
    public static let maximumRequestBytes = 2048

    /// A new browser binding: 32 random bytes in base64url without padding (43 characters), fit for a cookie's
    /// value. Set it at the start of a login, give it to ``start(_:binding:now:)``, and give the value the callback
    /// brings back to ``complete(callback:binding:now:)``.
    public static func makeBinding() -> String {
        SecureBytes.random(count: 32).withUnsafeBytes { AuthorizationSession.base64URL(bytes: Array($0)) }
    }

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
    /// Checks what can be checked now: the binding's length, the token, authorize and redirect URLs (https, or http to
    /// loopback), the request's length (``maximumRequestBytes``); with no client secret, that the account exists
    /// with this client id and token URL; without `mayReplace`, that it does not exist yet (checked again at
    /// completion, under the account's lock).
    ///
    /// - Parameters:
    ///   - request: The account to authorize, the OAuth client and the redirect URI.
    ///   - binding: What binds the login to this browser session (see ``WebLogin``, *The browser binding*): at least
    ///     ``minimumBindingBytes`` bytes, such as the value of a cookie holding ``makeBinding()``. Only its hash is
    ///     kept, inside the sealed state.
    ///   - now: The current time.
    /// - Throws: ``OAuthError`` (``OAuthError/Code/insecureTokenURL``, ``OAuthError/Code/authorizationFailed``) or
    ///   ``VaultError`` (``VaultError/Code/alreadyExists``, store failures).
    public func start(
        _ request: WebLoginRequest,
        binding: SecureBytes,
        now: Date = Date()
    ) async throws -> WebLoginStart {
        try Self.validate(binding: binding)
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
        if let secret = request.clientSecret, secret.isEmpty {
            throw OAuthError(.authorizationFailed, "the client secret is empty")
        }
        let length =
            [request.clientID, request.tokenURL, request.scopes, request.redirectURI].reduce(0) { $0 + $1.utf8.count }
            + (request.clientSecret?.count ?? 0)
        guard length <= Self.maximumRequestBytes else {
            throw OAuthError(
                .authorizationFailed,
                "the client id, token URL, scopes, redirect URI and client secret have \(length) bytes together, more "
                    + "than \(Self.maximumRequestBytes): the login's state would not fit in an authorize URL"
            )
        }
        try await checkAccount(for: request)

        let lifetime = min(max(0, configuration.stateLifetime.components.seconds), 86_400)  // at most a day
        let expiresAt = Int64(now.timeIntervalSince1970.rounded(.down)) + lifetime
        let verifier = Self.makeCodeVerifier()
        let content = WebLoginState(
            nonce: SecureBytes.random(count: WebLoginState.nonceBytes).withUnsafeBytes { Array($0) },
            bindingHash: Self.bindingHash(binding),
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
    /// - Parameters:
    ///   - parameters: The callback's query parameters.
    ///   - binding: The binding that this browser session brings (the cookie's value, the session id): the login
    ///     completes only if it is the one ``start(_:binding:now:)`` was given. Another binding is refused before the
    ///     state is claimed, so it does not use the state up.
    ///   - now: The current time.
    /// - Throws: ``OAuthError/Code/authorizationFailed`` for a missing, invalid, expired or already used state, a
    ///   binding shorter than ``minimumBindingBytes`` or other than the login's, an error redirect, a missing code,
    ///   or a failed exchange (the server's `error`, sanitised, is in the message and in
    ///   ``OAuthError/oauthError``); ``VaultError`` for the vault's own failures. Nothing is stored when it throws.
    public func complete(
        callback parameters: [String: String],
        binding: SecureBytes,
        now: Date = Date()
    ) async throws -> Account {
        try Self.validate(binding: binding)
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
        let presented = Self.bindingHash(binding).withUnsafeBytes { SecureBytes(copying: $0) }
        guard presented == login.bindingHash.withUnsafeBytes({ SecureBytes(copying: $0) }) else {
            provider.logger.notice(
                "web login refused: started in another browser session",
                metadata: ["account": "\(login.account)"]
            )
            throw OAuthError(
                .authorizationFailed,
                "this login was started in another browser session; nothing was stored, start the login again from "
                    + "this browser"
            )
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
                underlying: error,
                retryAfter: error.retryAfter
            )
        }
        provider.logger.info("web login completed", metadata: ["account": "\(account.name)"])
        return account
    }

    /// ``complete(callback:binding:now:)`` from the callback's raw query string (`code=…&state=…`; the first value
    /// of a repeated name counts).
    public func complete(query: String, binding: SecureBytes, now: Date = Date()) async throws -> Account {
        var parameters: [String: String] = [:]
        for (name, value) in FormEncoding.decode(Substring(query)) where parameters[name] == nil {
            parameters[name] = value
        }
        return try await complete(callback: parameters, binding: binding, now: now)
    }

    // MARK: - Internals

    /// Refuses a binding too short to be unguessable.
    private static func validate(binding: SecureBytes) throws {
        guard binding.count >= minimumBindingBytes else {
            throw OAuthError(
                .authorizationFailed,
                "the login's browser binding has \(binding.count) bytes, fewer than \(minimumBindingBytes): give a "
                    + "random value such as WebLogin.makeBinding() from a cookie set when the login started, or the "
                    + "server-side session id"
            )
        }
    }

    /// SHA-256 of a domain label and the binding, built in a wipeable buffer: what the state holds.
    static func bindingHash(_ binding: SecureBytes) -> [UInt8] {
        let label = Array("sendcloud-oauth/web-login/binding/v1".utf8) + [0]
        let message = SecureBytes.concatenating([label.withUnsafeBytes { SecureBytes(copying: $0) }, binding])
        return message.withUnsafeBytes { Sodium.sha256($0) }
    }

    /// The checks of ``start(_:binding:now:)`` that read the vault.
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
