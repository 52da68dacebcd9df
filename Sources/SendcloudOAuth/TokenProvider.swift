public import CredentialVault
public import Foundation
public import Logging
public import Metrics
public import Tracing

/// Hands out valid access tokens for the accounts of a vault, refreshing through the token endpoint.
///
/// - A valid access token is returned from memory while it stays valid for longer than ``Configuration/skew`` (no
///   store read, no decryption; at most ``Configuration/accessTokenCacheLimit`` accounts, least recently used
///   evicted), else from the store, else a new one is obtained.
/// - **Single flight.** Concurrent callers for one account share one in-flight refresh in this process; across
///   processes and hosts the vault's per-account lock (``CredentialVault/withAccountLock(_:timeout:_:isolation:)``)
///   serialises them, and whoever gets the lock second re-reads the account and takes the token the first one
///   stored instead of refreshing again. Other accounts are never blocked.
/// - **A 401 with a token**: ``refresh(_:ifStillUsing:logger:)`` refreshes only if the stored token is still the one
///   that was refused, so a burst of 401s causes one refresh.
/// - The new access token and the rotated refresh token are committed (compare-and-swap on the account's
///   generation, one durable transaction) before the token is returned to anyone. A response without a refresh
///   token keeps the old one.
/// - `invalid_grant` marks the account `reauth-required` with the server's message and keeps its secrets; later
///   calls fail at once without contacting the server until ``refresh(_:retryReauthorization:ifExpiringWithin:orLastRefreshedBefore:logger:)``
///   with `retryReauthorization`. Other failures count the account's consecutive failures and set its next attempt
///   time (``Configuration/failureBackoff``), which the refresher honours.
/// - Every outcome is published as an ``AccountEvent`` (``events(bufferingNewest:)``), counted in ``TokenMetrics``
///   and traced (spans `sendcloud_vault.lock_wait`, `sendcloud_vault.token_grant`, `sendcloud_vault.commit`).
public final class TokenProvider: Sendable {
    /// Provider settings.
    public struct Configuration: Sendable {
        /// A token is used only while it stays valid this much longer.
        public var skew: Duration = .seconds(60)
        /// How long to wait for another holder of an account's lock.
        public var lockTimeout: Duration = .seconds(60)
        /// The scope of client-credentials grants when the account names none.
        public var defaultClientCredentialsScope = "api"
        /// How many accounts' access tokens are held in memory (least recently used evicted); 0 — the default, for
        /// a process that makes one call (the CLI) — holds none, and every call reads the store. A long-running
        /// backend sets it (``VaultService`` uses 10,000): about 1 KiB per account.
        public var accessTokenCacheLimit = 0
        /// A 401 to a token younger than this (and not expired) is returned by
        /// ``execute(_:for:on:timeout:logger:)`` without a refresh: an API that refuses fresh tokens must not cost a
        /// refresh per request. Zero refreshes after every first 401.
        public var refusedTokenMinimumAge: Duration = .seconds(30)
        /// How long the refresher leaves an account alone after failed refreshes.
        public var failureBackoff = FailureBackoff()
        /// Where metrics go (``TokenMetrics``); `nil`: the process's `MetricsSystem`.
        public var metricsFactory: (any MetricsFactory)?
        /// Where spans go; `nil`: the process's `InstrumentationSystem.tracer`.
        public var tracer: (any Tracer)?

        /// The defaults of DESIGN §5/§6.
        public init() {}

        /// The scope a token request for `account` sends: a client-credentials grant sends the account's scopes, else
        /// ``defaultClientCredentialsScope``; a refresh sends none (the server keeps the scope it granted at
        /// authorization, which the account's scopes record); a `basic` account makes no token request.
        public func requestedScope(for account: Account) -> String? {
            switch account.mode {
            case .clientCredentials: account.scopes ?? defaultClientCredentialsScope
            case .refreshToken, .basic: nil
            }
        }
    }

    /// The vault the tokens live in.
    public let vault: CredentialVault
    let client: TokenEndpointClient
    /// The settings in use.
    public let configuration: Configuration
    let logger: Logger
    private let inFlight = SingleFlight<AccountName, AccessToken>()
    let cache: AccessTokenCache
    let broadcast = AccountEventBroadcast()
    let metrics: TokenMetrics
    let tracer: any Tracer

    /// Creates a provider over `vault` that obtains tokens with `client`.
    public init(
        vault: CredentialVault,
        client: TokenEndpointClient,
        configuration: Configuration = Configuration(),
        logger: Logger
    ) {
        self.vault = vault
        self.client = client
        self.configuration = configuration
        self.logger = logger
        cache = AccessTokenCache(limit: configuration.accessTokenCacheLimit)
        metrics = TokenMetrics(factory: configuration.metricsFactory)
        tracer = configuration.tracer ?? InstrumentationSystem.tracer
    }

    deinit { broadcast.finish() }

    /// A valid access token for `name`: the one in memory or in the store while it is valid for longer than the skew,
    /// else a new one. Throws ``OAuthError`` (``OAuthError/Code/reauthorizationRequired`` for an account marked so,
    /// without contacting the server) or ``VaultError``. `logger`: this call's logger (its metadata is kept), else
    /// the provider's.
    public func accessToken(for name: AccountName, logger: Logger? = nil) async throws -> AccessToken {
        if let cached = cache.token(for: name, validFor: configuration.skew, now: Date()) {
            metrics.lookup(.memory)
            return cached
        }
        let (account, secrets) = try await vault.openAccount(named: name)
        return try await accessToken(account, secrets, logger: logger ?? self.logger)
    }

    /// ``accessToken(for:logger:)`` for an account already read (one vault read per call on the hot path).
    private func accessToken(
        _ account: Account,
        _ secrets: AccountSecrets,
        logger: Logger
    ) async throws -> AccessToken {
        let name = account.name
        let token = Self.usable(secrets.accessToken)
        let decision = RefreshDecision.beforeLock(
            account,
            hasUsableToken: token != nil,
            reuseIfValidFor: configuration.skew,
            retryReauthorization: false,
            now: Date()
        )
        if let stored = try storedToken(decision, account, token) {
            metrics.lookup(.store)
            return stored
        }
        return try await inFlight.run(name) {
            try await self.obtain(
                name,
                observedRefreshedAt: account.refreshedAt,
                reuseIfValidFor: self.configuration.skew,
                retryReauthorization: false,
                logger: logger
            )
        }
    }

    /// Obtains a new token from the server now — unless another holder refreshed the account while this call
    /// waited (then its token is returned), or, with `ifExpiringWithin`, the stored token (re-read under the lock)
    /// is still valid for longer than that window and — with `orLastRefreshedBefore`, for a `refresh-token`
    /// account — was obtained after that date (keep-alive). An account marked `reauth-required` is tried again only
    /// with `retryReauthorization`. A call that joins a refresh already in flight for the account takes its result.
    public func refresh(
        _ name: AccountName,
        retryReauthorization: Bool = false,
        ifExpiringWithin window: Duration? = nil,
        orLastRefreshedBefore keepAliveBefore: Date? = nil,
        logger: Logger? = nil
    ) async throws -> AccessToken {
        let logger = logger ?? self.logger
        let account = try await vault.account(named: name)
        // No reuse before the lock: the window is checked on the record re-read under it.
        let decision = RefreshDecision.beforeLock(
            account,
            hasUsableToken: false,
            reuseIfValidFor: nil,
            retryReauthorization: retryReauthorization,
            now: Date()
        )
        _ = try storedToken(decision, account, nil)
        return try await inFlight.run(name) {
            try await self.obtain(
                name,
                observedRefreshedAt: account.refreshedAt,
                reuseIfValidFor: window,
                retryReauthorization: retryReauthorization,
                keepAliveBefore: keepAliveBefore,
                logger: logger
            )
        }
    }

    /// The token to use after the API refused `token` (HTTP 401): a new one if the stored token is still `token`,
    /// else the one another caller already obtained — so a burst of 401s for one account causes one refresh. The
    /// refused token is dropped from memory. An account marked `reauth-required` is refused as by
    /// ``accessToken(for:logger:)``.
    public func refresh(
        _ name: AccountName,
        ifStillUsing token: AccessToken,
        logger: Logger? = nil
    ) async throws -> AccessToken {
        let logger = logger ?? self.logger
        cache.remove(name, ifHolding: token.value)
        // Another caller refreshed already: its token is in memory.
        if let cached = cache.token(for: name, validFor: configuration.skew, now: Date()) {
            metrics.lookup(.memory)
            return cached
        }
        let (account, secrets) = try await vault.openAccount(named: name)
        let stored = Self.usable(secrets.accessToken)
        if let stored, stored != token.value, account.status == .ok,
            let expiry = account.accessTokenExpiresAt, expiry.timeIntervalSinceNow > configuration.skew.inSeconds
        {
            let other = AccessToken(
                account: name,
                value: stored,
                expiresAt: expiry,
                obtainedFromServer: false,
                obtainedAt: account.refreshedAt
            )
            cache.store(other)
            metrics.lookup(.store)
            return other
        }
        _ = try storedToken(
            RefreshDecision.beforeLock(
                account,
                hasUsableToken: false,
                reuseIfValidFor: nil,
                retryReauthorization: false,
                now: Date()
            ),
            account,
            nil
        )
        let refused = token.value
        let replace: @Sendable () async throws -> AccessToken = {
            try await self.obtain(
                name,
                observedRefreshedAt: account.refreshedAt,
                reuseIfValidFor: nil,
                retryReauthorization: false,
                replacing: refused,
                logger: logger
            )
        }
        let obtained = try await inFlight.run(name, replace)
        guard obtained.value == refused else { return obtained }
        // This call joined a flight that reused the refused token (a periodic refresher's, which found it still
        // valid): go once more, on our own terms — in a flight of its own too, so that a cancelled caller does not
        // abandon a rotation half-way.
        return try await inFlight.run(name, replace)
    }

    /// The `Authorization` header value for API calls of `name`: `Bearer <access token>` (obtained as by
    /// ``accessToken(for:logger:)``), or `Basic base64(public:secret)` for a `basic` account.
    public func authorizationHeaderValue(for name: AccountName, logger: Logger? = nil) async throws -> String {
        try await authorization(for: name, logger: logger).headerValue
    }

    /// The header value and, for a Bearer account, the token in it (for ``refresh(_:ifStillUsing:logger:)``).
    func authorization(
        for name: AccountName,
        logger: Logger?
    ) async throws -> (headerValue: String, token: AccessToken?) {
        if let cached = cache.token(for: name, validFor: configuration.skew, now: Date()) {
            metrics.lookup(.memory)
            return (cached.authorizationHeaderValue, cached)
        }
        let (account, secrets) = try await vault.openAccount(named: name)
        if account.mode == .basic {
            guard let secret = secrets.clientSecret else {
                throw VaultError.noClientSecret(name)
            }
            guard !account.clientID.contains(":") else {
                // RFC 7617: the user id of Basic credentials cannot hold ':' (the server would split there).
                throw VaultError(.invalidInput, "account '\(name)' is basic, and its client id holds ':'")
            }
            // RFC 7617: base64(public:secret), built in wipeable buffers; the header value is the one String.
            let pair = SecureBytes.concatenating([SecureBytes(utf8: account.clientID + ":"), secret])
            return ("Basic " + (pair.base64Encoded().unsafeStringValue() ?? ""), nil)
        }
        let token = try await accessToken(account, secrets, logger: logger ?? self.logger)
        return (token.authorizationHeaderValue, token)
    }

    /// Drops the access token held in memory for `name` (say, after removing or replacing the account elsewhere in
    /// this process); the next call reads the store.
    public func forget(_ name: AccountName) { cache.remove(name) }

    /// Waits until the refreshes in flight now (of any caller: a request handler's, the refresher's) have finished —
    /// committed their tokens, or failed. ``VaultService`` calls it when it stops, before closing the HTTP client and
    /// the store.
    public func waitForRefreshesInFlight() async { await inFlight.drain() }

    /// Ends every stream of ``events(bufferingNewest:)`` (their loops finish); later subscribers get a stream that
    /// ends at once. ``VaultService`` calls it when it stops.
    public func finishEvents() { broadcast.finish() }

    /// A stream of the ``AccountEvent``s from now on, in the order they happened; each subscriber gets every event.
    /// A subscriber that falls more than `bufferingNewest` events behind loses the oldest. The stream ends when the
    /// provider is released, at ``finishEvents()`` (``VaultService`` calls it as it stops), or when the subscriber
    /// stops iterating.
    ///
    /// In a `ServiceGroup`, list a service that consumes the events *before* the `VaultService` (services stop in
    /// reverse order, so it stops after it and sees every event), and let it wait for its own turn after the loop
    /// (`try? await gracefulShutdown()`): a service that returns before graceful shutdown reached it ends the group
    /// with `serviceFinishedUnexpectedly`.
    public func events(bufferingNewest limit: Int = 1024) -> AsyncStream<AccountEvent> {
        broadcast.subscribe(bufferingNewest: limit)
    }

    // MARK: - Internals

    func publish(_ name: AccountName, _ kind: AccountEvent.Kind) {
        broadcast.publish(AccountEvent(account: name, kind: kind))
    }

    /// A stored access token fit for a header: b64token characters only (one stored by an earlier version could hold
    /// anything the server sent); anything else counts as no token, and a new one is obtained.
    private static func usable(_ token: SecureBytes?) -> SecureBytes? {
        guard let token, TokenSyntax.isB64Token(token) else { return nil }
        return token
    }

    /// Carries out the part of `decision` that needs no server: the stored token for ``RefreshDecision/reuseStored``
    /// and ``RefreshDecision/takeOthersToken`` (held in memory from now on), the error for
    /// ``RefreshDecision/refuse(_:)``; `nil` for ``RefreshDecision/refresh``.
    private func storedToken(
        _ decision: RefreshDecision,
        _ account: Account,
        _ token: SecureBytes?
    ) throws -> AccessToken? {
        switch decision {
        case .refresh:
            return nil
        case .refuse(.basicMode):
            throw OAuthError(
                .notSupported,
                "account '\(account.name)' uses basic authentication and has no access token"
            )
        case .refuse(.reauthorizationRequired):
            cache.remove(account.name)
            throw Self.reauthError(account)
        case .reuseStored, .takeOthersToken:
            guard let token else { return nil }  // not reached: both decisions require a usable token
            let stored = AccessToken(
                account: account.name,
                value: token,
                expiresAt: account.accessTokenExpiresAt,
                obtainedFromServer: false,
                obtainedAt: account.refreshedAt
            )
            cache.store(stored)
            return stored
        }
    }

    /// An error as events and logs may show it: a vault or OAuth error's message, else its type.
    private static func describe(_ error: any Error) -> String {
        switch error {
        case let error as VaultError: error.message
        case let error as OAuthError: error.message
        default: "\(type(of: error))"
        }
    }

    private static func reauthError(_ account: Account) -> OAuthError {
        OAuthError(
            .reauthorizationRequired,
            "account '\(account.name)' needs re-authorization\(account.lastError.map { ": \($0)" } ?? "")",
            oauthError: "invalid_grant"
        )
    }

    /// Runs `body` under the account's lock, measuring and tracing the wait (``TokenMetrics/lockWait``, span
    /// `sendcloud_vault.lock_wait`).
    func withMeasuredLock<T: Sendable>(
        _ name: AccountName,
        _ body: () async throws -> T,
        isolation: isolated (any Actor)? = #isolation
    ) async throws -> T {
        let start = ContinuousClock.now
        let span = tracer.startSpan("sendcloud_vault.lock_wait")
        span.attributes["sendcloud_vault.account"] = name.description
        var acquired = false
        do {
            return try await vault.withAccountLock(name, timeout: configuration.lockTimeout) {
                acquired = true
                metrics.lockWaited(ContinuousClock.now - start)
                span.end()
                return try await body()
            }
        } catch {
            if !acquired {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error))
                span.end()
            }
            throw error
        }
    }

    /// Under the account lock: re-read, reuse another holder's fresh result, or run the grant and commit (see
    /// ``RefreshDecision/underLock(_:hasUsableToken:observedRefreshedAt:reuseIfValidFor:retryReauthorization:keepAliveBefore:now:)``).
    /// With `replacing` (the token a 401 refused), a different valid stored token is taken instead of refreshing.
    private func obtain(
        _ name: AccountName,
        observedRefreshedAt: Date?,
        reuseIfValidFor window: Duration?,
        retryReauthorization: Bool,
        keepAliveBefore: Date? = nil,
        replacing refused: SecureBytes? = nil,
        logger: Logger
    ) async throws -> AccessToken {
        try await withMeasuredLock(name) {
            let (account, secrets) = try await vault.openAccount(named: name)
            let token = Self.usable(secrets.accessToken)
            let now = Date()
            if let refused, let token, token != refused, account.status == .ok,
                let expiry = account.accessTokenExpiresAt, expiry.timeIntervalSince(now) > configuration.skew.inSeconds
            {
                logger.debug("took the token another holder obtained after a 401", metadata: ["account": "\(name)"])
                if let stored = try storedToken(.takeOthersToken, account, token) {
                    metrics.lookup(.store)
                    return stored
                }
            }
            let decision = RefreshDecision.underLock(
                account,
                hasUsableToken: token != nil,
                observedRefreshedAt: observedRefreshedAt,
                reuseIfValidFor: window,
                retryReauthorization: retryReauthorization,
                keepAliveBefore: keepAliveBefore,
                now: now
            )
            if decision == .takeOthersToken {
                // Another holder refreshed while we waited: take its token (no skew check, no second refresh).
                logger.debug("took the token another holder obtained", metadata: ["account": "\(name)"])
            }
            if let stored = try storedToken(decision, account, token) {
                metrics.lookup(.store)
                return stored
            }
            let obtained = try await grantAndCommit(account, secrets, logger: logger)
            metrics.lookup(.server)
            return obtained
        }
    }

    /// One token request for `account`, traced (span `sendcloud_vault.token_grant`, kind client) and counted
    /// (``TokenMetrics/tokenRequests`` by grant and outcome).
    func requestToken(_ grant: Grant, for account: Account, clientSecret: SecureBytes) async throws -> TokenResponse {
        do {
            let response = try await tracer.withSpan("sendcloud_vault.token_grant", ofKind: .client) { span in
                span.attributes["sendcloud_vault.account"] = account.name.description
                span.attributes["oauth.grant_type"] = grant.name
                return try await client.requestToken(
                    grant,
                    tokenURL: account.tokenURL,
                    clientID: account.clientID,
                    clientSecret: clientSecret
                )
            }
            metrics.tokenRequest(grant: grant.name, outcome: "success")
            return response
        } catch let error as OAuthError {
            metrics.tokenRequest(grant: grant.name, outcome: error.code.description)
            throw error
        }
    }

    private func grantAndCommit(
        _ account: Account,
        _ secrets: AccountSecrets,
        logger: Logger
    ) async throws -> AccessToken {
        guard let clientSecret = secrets.clientSecret else {
            throw VaultError.noClientSecret(account.name)
        }
        let grant: Grant
        switch account.mode {
        case .clientCredentials:
            grant = .clientCredentials(scope: configuration.requestedScope(for: account))
        case .refreshToken:
            guard let refreshToken = secrets.refreshToken else {
                let error = OAuthError(
                    .reauthorizationRequired,
                    "account '\(account.name)' has no refresh token; authorize it again (login)"
                )
                try await record(account, secrets, status: .reauthRequired, error: error)
                publish(account.name, .reauthorizationRequired(message: error.message))
                throw error
            }
            grant = .refreshToken(refreshToken, scope: nil)
        case .basic:
            throw OAuthError(.notSupported, "basic accounts have no token")
        }
        let start = ContinuousClock.now
        let response: TokenResponse
        do {
            response = try await requestToken(grant, for: account, clientSecret: clientSecret)
        } catch let error as OAuthError {
            logger.warning(
                "token refresh failed",
                metadata: ["account": "\(account.name)", "grant": "\(grant.name)", "error": "\(error.code)"]
            )
            if error.code == .reauthorizationRequired {
                cache.remove(account.name)
                try? await record(account, secrets, status: .reauthRequired, error: error)
                publish(account.name, .reauthorizationRequired(message: error.message))
            } else {
                try? await record(account, secrets, status: account.status, error: error)
                publish(account.name, .refreshFailed(RefreshFailure(error), message: error.message))
            }
            throw error
        }  // A cancelled caller (CancellationError) records nothing.
        // The server may have rotated the refresh token: this write must not be lost (see ``commit(_:_:_:)``).
        let stored: Account
        do {
            stored = try await tracer.withSpan("sendcloud_vault.commit") { span in
                span.attributes["sendcloud_vault.account"] = account.name.description
                return try await commit(account, secrets) { updated, newSecrets in
                    updated.accessTokenExpiresAt = response.expiresAt
                    updated.refreshedAt = response.receivedAt
                    updated.status = .ok
                    updated.lastError = nil
                    updated.consecutiveFailures = 0
                    updated.nextAttemptAt = nil
                    newSecrets.accessToken = response.accessToken
                    if let rotated = response.refreshToken { newSecrets.refreshToken = rotated }
                }
            }
        } catch {
            // The server has issued tokens that the vault does not hold: if it rotated the refresh token, the
            // stored one is spent, and the next refresh will be refused (invalid_grant).
            let message = "new tokens were obtained but could not be stored (\(Self.describe(error)))"
            logger.error("\(message)", metadata: ["account": "\(account.name)", "grant": "\(grant.name)"])
            publish(account.name, .refreshFailed(.notStored, message: message))
            throw error
        }
        let latency = ContinuousClock.now - start
        metrics.refreshed(grant: grant.name, after: latency)
        logger.info(
            "token refreshed",
            metadata: [
                "account": "\(account.name)", "grant": "\(grant.name)", "rotated": "\(response.refreshToken != nil)",
                "latency": "\(latency)",
            ]
        )
        let token = AccessToken(
            account: account.name,
            value: response.accessToken,
            expiresAt: stored.accessTokenExpiresAt,
            obtainedFromServer: true,
            obtainedAt: response.receivedAt
        )
        cache.store(token)
        publish(account.name, .refreshed(expiresAt: stored.accessTokenExpiresAt))
        return token
    }

    /// Stores a failure on the account (status and message), keeping every secret: one more consecutive failure, and
    /// — unless the account now needs re-authorization, which the refresher skips anyway — the next attempt time of
    /// ``Configuration/failureBackoff``, or the server's `Retry-After` if that is later.
    private func record(
        _ account: Account,
        _ secrets: AccountSecrets,
        status: AccountStatus,
        error: OAuthError
    ) async throws {
        let backoff = configuration.failureBackoff
        // The server's Retry-After is a lower bound (at most a day: a hostile value must not park a tenant).
        let serverWait = error.retryAfter.map { min($0, .seconds(86_400)).inSeconds }
        _ = try await commit(account, secrets) { updated, _ in
            updated.status = status
            updated.lastError = error.message
            updated.consecutiveFailures = min(updated.consecutiveFailures + 1, Self.maximumConsecutiveFailures)
            guard status != .reauthRequired else {
                updated.nextAttemptAt = nil
                return
            }
            let now = Date()
            let backedOff = backoff.nextAttempt(afterFailures: updated.consecutiveFailures, now: now)
            updated.nextAttemptAt = max(backedOff, now.addingTimeInterval(serverWait ?? 0))
        }
    }

    /// The count of consecutive failures stops here (a store refuses larger values as damaged).
    static let maximumConsecutiveFailures = 1_000_000

    /// Applies `change` to the account and writes it by compare-and-swap. The caller holds the account's lock, so
    /// a conflict can only come from a writer that does not take it — a data-key rotation, an operator's edit:
    /// then the account is re-read (with the rotated key, if any) and `change` applied to the fresh record, so
    /// that a rotated refresh token is never dropped. Gives up after three conflicts.
    ///
    /// A store that is briefly unreachable (``VaultError/Code/unavailable``: a database restarting or failing over)
    /// is retried with backoff for up to ``storeRetryWindow``: a rotated refresh token exists only in this process
    /// until it is committed, and giving up at the first failure would lose it (the next caller would be refused with
    /// `invalid_grant`). A write whose outcome was unknown and that did commit shows up as a conflict on the retry,
    /// and the re-read record then already holds the new tokens.
    func commit(
        _ account: Account,
        _ secrets: AccountSecrets,
        _ change: (inout Account, inout AccountSecrets) -> Void
    ) async throws -> Account {
        var base = (account: account, secrets: secrets)
        let clock = ContinuousClock()
        let deadline = clock.now + Self.storeRetryWindow
        var pause = Duration.milliseconds(100)
        var conflicts = 0
        while true {
            var updated = base.account
            var newSecrets = base.secrets
            change(&updated, &newSecrets)
            do {
                return try await vault.updateAccount(
                    updated,
                    secrets: newSecrets,
                    expectedGeneration: base.account.generation
                )
            } catch let error as VaultError where error.code == .conflict && conflicts < 2 {
                conflicts += 1
                logger.notice("account changed under its lock; re-reading", metadata: ["account": "\(account.name)"])
                base = try await reread(account.name, until: deadline)
            } catch let error as VaultError where error.code == .unavailable && clock.now + pause < deadline {
                logger.warning(
                    "the vault's store is unreachable while a token is being stored; retrying",
                    metadata: ["account": "\(account.name)", "error": "\(error.message)"]
                )
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            } catch let error as VaultError where error.code == .conflict {
                logger.notice("account kept changing under its lock", metadata: ["error": "\(error.message)"])
                break
            }
        }
        throw VaultError.keptChanging(account.name, while: "its tokens were being stored")
    }

    /// How long storing a token keeps retrying a store that is unreachable.
    static let storeRetryWindow = Duration.seconds(30)

    /// Re-reads an account, retrying an unreachable store until `deadline`.
    private func reread(
        _ name: AccountName,
        until deadline: ContinuousClock.Instant
    ) async throws -> (
        account: Account, secrets: AccountSecrets
    ) {
        var pause = Duration.milliseconds(100)
        while true {
            do {
                return try await vault.openAccount(named: name)
            } catch let error as VaultError where error.code == .unavailable && ContinuousClock.now + pause < deadline {
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }
}
