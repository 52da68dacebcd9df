import Hummingbird
public import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A fake Sendcloud OAuth 2.0 server (Sendcloud runs Ory Hydra) and a stand-in for Sendcloud's API, on a loopback
/// address: for an embedder's tests, and for local development through the `sendcloud-dev-endpoint` executable.
///
/// - `POST /oauth2/token` (``tokenURL``): `client_credentials`, `authorization_code` (PKCE S256) and
///   `refresh_token` grants, HTTP Basic client authentication (RFC 6749 §2.3.1), refresh-token rotation with
///   Hydra's reuse detection (a rotated-away token presented again revokes its whole authorization), Hydra's error
///   body (`error`, `error_description`, `error_hint`, `status_code`).
/// - `GET /oauth2/auth` (``authorizeURL``): approves at once — no login or consent page — and redirects to the
///   `redirect_uri`, which must be `http` on 127.0.0.1 or localhost, with a single-use code.
/// - `GET /api/v3/user/auth/metadata` (``userAuthMetadataURL``): the stand-in for Sendcloud's API v3 "Retrieve
///   metadata associated with the authentication method". It answers 200 with
///   `{"data":{"user_id":…,"integration_id":…,"client_id":"…","auth_method":"oauth2"|"api_key","scope":"…"}}`
///   for a valid Bearer access token that this server issued (not revoked, not expired) or for HTTP Basic with a
///   registered client id and secret (Sendcloud's API key pair, RFC 7617, not form-encoded), and 401 with
///   `WWW-Authenticate` otherwise. `integration_id` numbers the clients in order of registration; `user_id` is
///   1000 + the number of the authorization (one per code exchange or ``issueRefreshToken(clientID:scope:)``) for
///   tokens of an authorization, else the `integration_id`: each tenant's consent looks like its own user.
///
/// - `/dev/…`, only when started with `developmentRoutes: true` (as `sendcloud-dev-endpoint` does), for scripts that
///   watch and steer a running server: `GET /dev/stats` answers ``Stats`` as a JSON object with snake_case keys
///   (`token_requests`, `client_credentials_grants`, `refresh_grants`, …; counters only, never a token);
///   `POST /dev/revoke?client_id=ID` is ``revokeAuthorizations(ofClient:)``; `POST
///   /dev/access-token-lifetime?seconds=N` is ``setAccessTokenLifetime(seconds:)``. The `POST` routes require the
///   header `Sendcloud-Dev-Control: 1` (403 without it), which a web page cannot send to another origin without
///   the server's consent, so a page in a local browser cannot steer the server.
///
/// Faults can be queued (one per request, so several can be chained: 500, then a reset, then success) or made
/// permanent to test a client's error handling. The server also measures what a client does to it: the most token
/// requests it had in flight at once and the arrival time of each (``Stats``, ``tokenRequestArrivals``).
///
/// ```swift
/// let sendcloud = try await FakeSendcloud.start(clients: ["client-id": "client-secret"])
/// let refreshToken = sendcloud.issueRefreshToken(clientID: "client-id")
/// // … add an account with sendcloud.tokenURL and refreshToken, run the code under test, then:
/// #expect(sendcloud.stats.refreshGrants == 1)
/// await sendcloud.stop()
/// ```
///
/// Everything is in memory and lost when the server stops. Secrets and tokens are compared in plain Swift, not in
/// constant time: this is a test double, never a server to expose.
public final class FakeSendcloud: Sendable {
    /// A way for the server to misbehave, injected with ``injectFaults(_:)`` or ``setPermanentFault(_:)``.
    ///
    /// Unless a case says otherwise the request is not processed: no grant is used, no token rotated.
    public enum Fault: Sendable, Equatable {
        /// 500 with the spec's JSON error body (error `server_error`).
        case internalServerError
        /// 502 with an HTML body (`text/html`).
        case badGatewayHTML
        /// 429 with `Retry-After: <seconds>` and a JSON error body.
        case tooManyRequests(retryAfter: Int)
        /// 200, `Content-Type: text/html`, body `<html>ok</html>`.
        case nonJSON200
        /// 200 JSON without `access_token`: `{"token_type":"bearer","expires_in":3600}`.
        case missingAccessToken200
        /// 200 with a JSON-looking body (`{"access_token":"xxx…"}`) of exactly that many bytes.
        case oversizedBody(bytes: Int)
        /// 200, `application/json`, exactly this body (a hostile or broken server's answer).
        case json200(String)
        /// Waits that long before processing the request, then answers normally.
        case slow(seconds: Double)
        /// Resets the connection (`SO_LINGER` 0, then close) once the request has arrived, without answering.
        case reset
        /// Processes the request as usual (a refresh token is rotated and spent, a code used: the server's state is
        /// committed), waits `delay` seconds, then closes the connection without any response. This is the
        /// lost-rotation case of DESIGN §5: the client cannot learn the new refresh token, and the one it holds was
        /// rotated away.
        case dropAfterProcessing(delay: Double = 0)
        /// For the authorize endpoint: redirects with a state different from the one asked.
        case wrongState
        /// This 4xx status with the spec's JSON error body (`error`, `error_description`, `error_hint`): a refusal
        /// such as `unsupported_grant_type` or `invalid_scope` that the fake would not otherwise give.
        case oauthError(status: Int, error: String, description: String, hint: String)
    }

    /// Counters of what the server received and did, since it started or since ``resetStats()``.
    public struct Stats: Sendable, Equatable {
        /// Every POST to the token path, faulted or not.
        public var tokenRequests: Int
        /// Successful `client_credentials` grants.
        public var clientCredentialsGrants: Int
        /// Successful `authorization_code` grants.
        public var authorizationCodeGrants: Int
        /// Successful `refresh_token` grants.
        public var refreshGrants: Int
        /// Requests answered with `invalid_grant` (unknown, used, revoked or foreign grants).
        public var invalidGrant: Int
        /// Requests answered with `invalid_client` (client authentication failed).
        public var invalidClient: Int
        /// Faults applied, on the token and the authorize endpoint.
        public var faultsServed: Int
        /// The most token requests that were in the server at the same time (from arrival until the handler has
        /// its answer, a `.slow` fault's delay included).
        public var maxConcurrentTokenRequests: Int
        /// Every request to the API stand-in (``FakeSendcloud/userAuthMetadataURL``), answered or refused.
        public var apiRequests: Int
        /// API requests refused with 401 (no, unknown, revoked or expired credentials).
        public var apiUnauthorized: Int

        /// Counters with these values, zero by default (to compare ``FakeSendcloud/stats`` with).
        public init(
            tokenRequests: Int = 0,
            clientCredentialsGrants: Int = 0,
            authorizationCodeGrants: Int = 0,
            refreshGrants: Int = 0,
            invalidGrant: Int = 0,
            invalidClient: Int = 0,
            faultsServed: Int = 0,
            maxConcurrentTokenRequests: Int = 0,
            apiRequests: Int = 0,
            apiUnauthorized: Int = 0
        ) {
            self.tokenRequests = tokenRequests
            self.clientCredentialsGrants = clientCredentialsGrants
            self.authorizationCodeGrants = authorizationCodeGrants
            self.refreshGrants = refreshGrants
            self.invalidGrant = invalidGrant
            self.invalidClient = invalidClient
            self.faultsServed = faultsServed
            self.maxConcurrentTokenRequests = maxConcurrentTokenRequests
            self.apiRequests = apiRequests
            self.apiUnauthorized = apiUnauthorized
        }
    }

    /// The server could not start (a non-loopback host, a port in use, …).
    public struct StartError: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    private let core: FakeSendcloudCore
    private let group: ServiceGroup
    private let runTask: Task<Void, Never>
    /// The loopback address the server listens on, as it appears in its URLs (`127.0.0.1`, or `[::1]`).
    public let host: String
    /// The port the server listens on.
    public let port: Int

    private init(core: FakeSendcloudCore, group: ServiceGroup, runTask: Task<Void, Never>, host: String, port: Int) {
        self.core = core
        self.group = group
        self.runTask = runTask
        self.host = host
        self.port = port
    }

    /// Starts a server and returns once it accepts connections.
    ///
    /// - Parameters:
    ///   - host: A loopback address to listen on: `127.0.0.1` (default), another 127.0.0.0/8 address, `::1` or
    ///     `localhost` (which means 127.0.0.1). Anything else throws ``StartError``: the server is a test double.
    ///   - port: The port, 0 (default) for any free port; read the one chosen from ``port``.
    ///   - clients: Client ids and their secrets to register at once (``registerClient(id:secret:)``).
    ///   - developmentRoutes: Also serve the control routes under `/dev/` (see the type's documentation):
    ///     counters, revoking a client's authorizations, the access-token lifetime. Default false; the
    ///     `sendcloud-dev-endpoint` executable turns them on so that a script (the `demo`) can watch and steer it.
    ///   - logger: Where the HTTP server logs; nothing by default.
    public static func start(
        host: String = "127.0.0.1",
        port: Int = 0,
        clients: [String: String] = [:],
        developmentRoutes: Bool = false,
        logger: Logger? = nil
    ) async throws -> FakeSendcloud {
        guard let bindHost = loopbackBindAddress(host) else {
            throw StartError(description: "'\(host)' is not a loopback address: the fake serves 127.0.0.1 or ::1 only")
        }
        guard (0...65535).contains(port) else { throw StartError(description: "port \(port) is out of range") }
        let core = FakeSendcloudCore()
        core.state.withLock { state in
            for (id, secret) in clients.sorted(by: { $0.key < $1.key }) {
                state.register(clientID: id, secret: secret)
            }
        }
        let router = Router(context: FakeSendcloudContext.self)
        router.post("/oauth2/token") { request, context in await core.token(request, channel: context.channel) }
        router.get("/oauth2/auth") { request, _ in core.authorize(request) }
        router.get(RouterPath(userAuthMetadataPath)) { request, _ in core.userAuthMetadata(request) }
        if developmentRoutes { core.addDevelopmentRoutes(to: router) }

        let logger = logger ?? Logger(label: "FakeSendcloud", factory: { _ in SwiftLogNoOpLogHandler() })
        let started = OneShot<Int>()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(bindHost, port: port)),
            onServerRunning: { channel in
                if let port = channel.localAddress?.port {
                    started.fulfill(.success(port))
                } else {
                    started.fulfill(.failure(StartError(description: "The server channel has no local port.")))
                }
            },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let runTask = Task {
            do {
                try await group.run()
                started.fulfill(.failure(StartError(description: "The server stopped before it was running.")))
            } catch {
                started.fulfill(.failure(error))
            }
        }
        do {
            let port = try await started.value()
            let urlHost = bindHost.contains(":") ? "[\(bindHost)]" : bindHost
            return FakeSendcloud(core: core, group: group, runTask: runTask, host: urlHost, port: port)
        } catch {
            await group.triggerGracefulShutdown()
            await runTask.value
            throw error
        }
    }

    /// The address to bind for `host`, if it is a loopback one.
    static func loopbackBindAddress(_ host: String) -> String? {
        var host = Substring(host.lowercased())
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        if host == "localhost" { return "127.0.0.1" }
        if host == "::1" { return String(host) }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127", parts.allSatisfy({ UInt8($0) != nil && !$0.hasPrefix("+") })
        else { return nil }
        return parts.map { String(UInt8($0)!) }.joined(separator: ".")
    }

    /// Shuts the server down gracefully and waits until it has stopped. Calling it again does nothing.
    public func stop() async {
        core.state.withLock { $0.stopping = true }
        await group.triggerGracefulShutdown()
        await runTask.value
    }

    deinit {
        // A server that was not stopped still shuts down once dropped (stop() makes this a no-op).
        core.state.withLock { $0.stopping = true }
        let group = self.group
        Task { await group.triggerGracefulShutdown() }
    }

    /// `http://HOST:PORT`, such as `http://127.0.0.1:8123`.
    public var baseURL: String { "http://\(host):\(port)" }
    /// The token endpoint, `POST` only: `…/oauth2/token`.
    public var tokenURL: String { baseURL + "/oauth2/token" }
    /// The authorize endpoint, `GET` only: `…/oauth2/auth`.
    public var authorizeURL: String { baseURL + "/oauth2/auth" }
    /// The base of the API stand-in, in place of Sendcloud's `https://panel.sendcloud.sc/api/v3`.
    public var apiBaseURL: String { baseURL + "/api/v3" }
    /// The API stand-in's one endpoint, `GET` only: Sendcloud v3's `GET /user/auth/metadata`.
    public var userAuthMetadataURL: String { baseURL + Self.userAuthMetadataPath }

    static let userAuthMetadataPath = "/api/v3/user/auth/metadata"

    // MARK: Configuration

    /// Registers (or replaces) a client for HTTP Basic authentication, at the token endpoint and the API.
    public func registerClient(id: String, secret: String) {
        core.state.withLock { $0.register(clientID: id, secret: secret) }
    }

    /// Default false. When true, an unknown client id is registered with the first secret presented for it (at the
    /// token endpoint or the API), and the authorize endpoint accepts any client id: for local development, where
    /// any client id and secret should work. A wrong secret for a client id already seen is still refused.
    public func setAcceptsAnyClient(_ accepts: Bool) {
        core.state.withLock { $0.acceptsAnyClient = accepts }
    }

    /// A fresh refresh-token chain for the client, as if the merchant had authorized earlier.
    public func issueRefreshToken(clientID: String, scope: String = "api offline_access") -> String {
        core.state.withLock { state in
            let chainID = state.makeChain(clientID: clientID, scope: FakeSendcloudCore.normalizedScope(scope))
            return state.issueRefreshToken(clientID: clientID, chainID: chainID)
        }
    }

    /// The expiry instants of the access tokens issued so far in the chain of `refreshToken` (any token of the chain,
    /// the first one included), in issue order, or `nil` for an unknown token: one entry per grant of that
    /// authorization, so that a test can tell how often, and how soon after one another, a tenant was refreshed.
    public func accessTokenExpiries(ofChainWith refreshToken: String) -> [ContinuousClock.Instant]? {
        core.state.withLock { state in
            guard let chainID = state.refreshTokens[refreshToken]?.chainID, let chain = state.chains[chainID] else {
                return nil
            }
            return chain.accessTokens.compactMap { state.accessTokens[$0]?.expiresAt }
        }
    }

    /// `expires_in` of the access tokens issued from now on (and their validity); default 3600.
    public func setAccessTokenLifetime(seconds: Int) {
        core.state.withLock { $0.accessTokenLifetime = seconds }
    }

    /// Revokes one access token before its expiry, as Sendcloud may: from now on the API answers 401 to it while
    /// a client still believes it valid. Returns whether the server had issued it. Refresh tokens are untouched.
    @discardableResult
    public func revokeAccessToken(_ token: String) -> Bool {
        core.state.withLock { state in
            guard state.accessTokens[token] != nil else { return false }
            state.accessTokens[token]?.revoked = true
            return true
        }
    }

    /// Revokes every access token issued so far to `clientID` (of every tenant that authorized it), as a server-side
    /// revocation would; refresh tokens stay usable. Returns how many were still valid.
    @discardableResult
    public func revokeAccessTokens(ofClient clientID: String) -> Int {
        core.state.withLock { state in
            var revoked = 0
            for (token, record) in state.accessTokens where record.clientID == clientID {
                if state.isAccessTokenValid(token) { revoked += 1 }
                state.accessTokens[token]?.revoked = true
            }
            return revoked
        }
    }

    /// Revokes every authorization of `clientID` — each tenant's consent, as when merchants disconnect the
    /// integration: every refresh token and access token of those chains stops working, and refreshing with them
    /// answers `invalid_grant`. Tokens of `client_credentials` grants and the client itself stay valid. Returns
    /// how many authorizations were still active.
    @discardableResult
    public func revokeAuthorizations(ofClient clientID: String) -> Int {
        core.state.withLock { $0.revokeChains(ofClient: clientID) }
    }

    /// Default true. When false, refresh answers carry no `refresh_token` and the presented one stays valid.
    public func setRotatesRefreshTokens(_ rotates: Bool) {
        core.state.withLock { $0.rotatesRefreshTokens = rotates }
    }

    /// Queues faults behind those already queued. Each token request consumes the next queued token fault; each
    /// authorize request consumes the next queued `.wrongState`. (The two kinds form separate queues, each in the
    /// given order.) So `[.internalServerError, .reset]` makes the next token request a 500, the one after it a
    /// reset connection, and the third a normal answer. An empty array leaves the queues as they are; see
    /// ``clearFaults()``.
    public func injectFaults(_ faults: [Fault]) {
        core.state.withLock { $0.enqueue(faults) }
    }

    /// A fault applied to every token request while set (`.wrongState`: to every authorize request).
    /// Queued faults are served first.
    public func setPermanentFault(_ fault: Fault?) {
        core.state.withLock { $0.permanentFault = fault }
    }

    /// Ends the delay of every request held right now by `.slow` or `.dropAfterProcessing(delay:)`: each goes on at
    /// once (answered, or dropped). Lets a test hold a request for as long as it needs, then let it go.
    public func releaseHeldRequests() {
        core.state.withLock { $0.releases += 1 }
    }

    /// Drops every queued fault (the permanent one stays).
    public func clearFaults() {
        core.state.withLock {
            $0.queuedTokenFaults = []
            $0.queuedAuthorizeFaults = []
        }
    }

    /// The faults queued and not yet served.
    public var pendingFaults: [Fault] {
        core.state.withLock { $0.queuedTokenFaults + $0.queuedAuthorizeFaults }
    }

    // MARK: Observation

    /// The counters so far.
    public var stats: Stats {
        core.state.withLock { $0.stats }
    }

    /// When each token request arrived (before any fault was applied), in arrival order, on the continuous clock.
    /// Tests measure a client's spacing of requests with these, not with their own clock.
    public var tokenRequestArrivals: [ContinuousClock.Instant] {
        core.state.withLock { $0.tokenRequestArrivals }
    }

    /// Zeroes ``stats`` and forgets ``tokenRequestArrivals`` (requests in flight still count as in flight).
    public func resetStats() {
        core.state.withLock { state in
            state.stats = Stats()
            state.stats.maxConcurrentTokenRequests = state.tokenRequestsInFlight
            state.tokenRequestArrivals = []
        }
    }

    /// Issued, not revoked (by a refresh, reuse detection or ``revokeAccessToken(_:)``), not expired.
    public func isAccessTokenValid(_ token: String) -> Bool {
        core.state.withLock { $0.isAccessTokenValid(token) }
    }

    /// The current token of a chain that has not been revoked.
    public func isRefreshTokenActive(_ token: String) -> Bool {
        core.state.withLock { $0.isRefreshTokenActive(token) }
    }

    /// Every form body the token endpoint received, decoded (for tests that check what was sent).
    public var receivedForms: [[String: String]] {
        core.state.withLock { $0.receivedForms }
    }

    /// The Authorization header values received by the token endpoint.
    public var receivedAuthorizationHeaders: [String] {
        core.state.withLock { $0.receivedAuthorizationHeaders }
    }
}

/// A value set once from any task and awaited by one.
private final class OneShot<Value: Sendable>: Sendable {
    private struct State {
        var result: Result<Value, any Error>?
        var continuation: CheckedContinuation<Value, any Error>?
    }

    private let state = Mutex(State())

    func fulfill(_ result: Result<Value, any Error>) {
        let continuation: CheckedContinuation<Value, any Error>? = state.withLock { state in
            guard case .none = state.result else { return nil }
            state.result = result
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
    }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let result: Result<Value, any Error>? = state.withLock { state in
                if case .none = state.result { state.continuation = continuation }
                return state.result
            }
            if let result { continuation.resume(with: result) }
        }
    }
}
