import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A fake Sendcloud OAuth 2.0 server (Sendcloud runs Ory Hydra), listening on 127.0.0.1 on a free port.
///
/// - `POST /oauth2/token`: `client_credentials`, `authorization_code` (PKCE S256) and `refresh_token` grants,
///   HTTP Basic client authentication, refresh-token rotation with reuse detection, Hydra's error body.
/// - `GET /oauth2/auth`: approves at once and redirects to the (loopback) `redirect_uri` with a code.
///
/// Faults can be queued (one per request, so several can be chained: 500, then a reset, then success) or made
/// permanent to test a client's error handling. The server also measures what a client does to it: the most token
/// requests it had in flight at once and the arrival time of each (``Stats``, ``tokenRequestArrivals``).
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

        /// Counters with these values, zero by default (to compare ``FakeSendcloud/stats`` with).
        public init(
            tokenRequests: Int = 0,
            clientCredentialsGrants: Int = 0,
            authorizationCodeGrants: Int = 0,
            refreshGrants: Int = 0,
            invalidGrant: Int = 0,
            invalidClient: Int = 0,
            faultsServed: Int = 0,
            maxConcurrentTokenRequests: Int = 0
        ) {
            self.tokenRequests = tokenRequests
            self.clientCredentialsGrants = clientCredentialsGrants
            self.authorizationCodeGrants = authorizationCodeGrants
            self.refreshGrants = refreshGrants
            self.invalidGrant = invalidGrant
            self.invalidClient = invalidClient
            self.faultsServed = faultsServed
            self.maxConcurrentTokenRequests = maxConcurrentTokenRequests
        }
    }

    /// The server could not start.
    public struct StartError: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    private let core: FakeSendcloudCore
    private let group: ServiceGroup
    private let runTask: Task<Void, Never>
    /// The port on 127.0.0.1 the server listens on.
    public let port: Int

    private init(core: FakeSendcloudCore, group: ServiceGroup, runTask: Task<Void, Never>, port: Int) {
        self.core = core
        self.group = group
        self.runTask = runTask
        self.port = port
    }

    /// Starts a server on 127.0.0.1 on a free port; returns once it accepts connections.
    public static func start() async throws -> FakeSendcloud {
        let core = FakeSendcloudCore()
        let router = Router(context: FakeSendcloudContext.self)
        router.post("/oauth2/token") { request, context in await core.token(request, channel: context.channel) }
        router.get("/oauth2/auth") { request, _ in core.authorize(request) }

        let logger = Logger(label: "FakeSendcloud", factory: { _ in SwiftLogNoOpLogHandler() })
        let started = OneShot<Int>()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
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
            return FakeSendcloud(core: core, group: group, runTask: runTask, port: port)
        } catch {
            await group.triggerGracefulShutdown()
            await runTask.value
            throw error
        }
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

    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// The token endpoint, `POST` only.
    public var tokenURL: String { baseURL + "/oauth2/token" }
    /// The authorize endpoint, `GET` only.
    public var authorizeURL: String { baseURL + "/oauth2/auth" }

    // MARK: Configuration

    /// Registers (or replaces) a client for HTTP Basic authentication.
    public func registerClient(id: String, secret: String) {
        core.state.withLock { $0.clients[id] = secret }
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

    /// Issued, not revoked (refresh and reuse detection revoke), not expired.
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
