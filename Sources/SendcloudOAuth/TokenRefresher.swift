public import CredentialVault
public import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// Refreshes the accounts whose access token expires within a window: periodically as a `Service`, or once
/// (``refreshDue(force:names:)``, which `sendcloud-vault refresh` uses).
///
/// Work runs with bounded concurrency, a random start delay per account (so that tenants do not all renew at
/// once) and an optional cap on token requests per second (Sendcloud rate-limits POSTs: 100/min, bursts of 15/s).
///
/// A periodic pass skips `reauth-required` accounts and accounts backing off after failures (their next attempt
/// time, stored with the account, has not come: every instance sharing the vault honours it), and renews — as
/// keep-alive — `refresh-token` accounts not refreshed for ``Configuration/maxRefreshTokenAge``, since Hydra lets an
/// unused refresh token expire. Each pass records the accounts by status and its lag (``TokenMetrics``). On
/// graceful shutdown no further refresh starts; those in flight finish and commit, then ``run()`` returns.
public struct TokenRefresher: Service {
    /// Scheduling settings.
    public struct Configuration: Sendable {
        /// Time between two passes of ``run()``.
        public var interval: Duration = .seconds(60)
        /// Accounts whose token expires within this window (or that have none) are due.
        public var ahead: Duration = .seconds(300)
        /// Refreshes at the same time.
        public var concurrency = 4
        /// Each refresh starts after a random delay up to this long.
        public var jitter: Duration = .seconds(2)
        /// At most this many token requests per second, if set.
        public var maxRequestsPerSecond: Double?
        /// Keep-alive: `refresh-token` accounts last refreshed longer ago than this are due whatever their token's
        /// expiry (Hydra's refresh tokens expire unused, by default after 720 h). `nil` turns keep-alive off.
        public var maxRefreshTokenAge: Duration? = .seconds(7 * 24 * 3600)
        /// Stop a pass after this many refreshes in a row failed as ``OAuthError/Code/unreachable`` (the token
        /// endpoint is down: trying every other account only costs time); the accounts not yet started get
        /// ``NotAttempted``. `nil` (the default, for the periodic service) never stops early.
        public var stopAfterConsecutiveUnreachable: Int?

        /// 60 s passes, 5 min window, 4 at once, 2 s jitter, no rate cap, keep-alive after 7 days.
        public init() {}
    }

    /// What happened to one account in a pass.
    public struct Outcome: Sendable {
        /// The account.
        public var account: AccountName
        /// The new token, or the error.
        public var result: Result<AccessToken, any Error>
    }

    /// The outcome error of an account a pass did not try, because the token endpoint was unreachable for
    /// ``Configuration/stopAfterConsecutiveUnreachable`` accounts in a row before its turn. Nothing was sent for it.
    public struct NotAttempted: Error, Sendable, CustomStringConvertible {
        /// How many refreshes in a row failed as unreachable.
        public var consecutiveUnreachable: Int

        public var description: String {
            "not attempted: the token endpoint was unreachable for \(consecutiveUnreachable) accounts in a row"
        }
    }

    let provider: TokenProvider
    let configuration: Configuration
    let logger: Logger

    /// Creates a refresher.
    public init(provider: TokenProvider, configuration: Configuration = Configuration(), logger: Logger) {
        self.provider = provider
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs passes every ``Configuration/interval`` until graceful shutdown or cancellation.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    await recordAccountCounts()
                    // Counts only: a pass over many accounts must not hold every new token until it ends.
                    let tally = PassTally()
                    _ = try await refreshDue(keepingOutcomes: false) { outcome, _, _ in tally.add(outcome) }
                    let (refreshed, failed) = tally.counts
                    if refreshed + failed > 0 {
                        logger.info("refresh pass", metadata: ["refreshed": "\(refreshed)", "failed": "\(failed)"])
                    }
                } catch {
                    logger.error("refresh pass failed", metadata: ["error": "\(error)"])
                }
                // Woken early by graceful shutdown.
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.interval) }
            }
        } onGracefulShutdown: {
            logger.info("token refresher stopping")
        }
    }

    /// The accounts due now (a ``DueAccountQuery``, paged): tokens that expire within ``Configuration/ahead`` (or none
    /// stored), `ok` status, next attempt time passed, not `basic`. With `force`, every non-basic account, `reauth-required` ones included. A record that cannot even
    /// be decoded is skipped (one damaged row must not stop every tenant's renewals), logged, and handed to
    /// `damaged`.
    public func dueAccounts(
        force: Bool = false,
        damaged: (@Sendable (VaultError) -> Void)? = nil
    ) async throws -> [AccountName] {
        let now = Date()
        var query = DueAccountQuery(
            expiringBefore: now.addingTimeInterval(configuration.ahead.inSeconds),
            refreshedBefore: keepAliveBefore(now),
            now: now,
            everyTokenAccount: force
        )
        var mostOverdue: Date?
        // The store answers from metadata through its indexes, a page at a time; no sealed value is read.
        var due: [AccountName] = []
        while true {
            let (page, next) = try await provider.vault.dueAccounts(query)
            for record in page {
                switch record {
                case .success(let account):
                    due.append(account.name)
                    if let expiry = account.accessTokenExpiresAt {
                        let dueSince = expiry.addingTimeInterval(-configuration.ahead.inSeconds)
                        mostOverdue = min(mostOverdue ?? dueSince, dueSince)
                    }
                case .failure(let error):
                    logger.error("skipped a damaged account record", metadata: ["error": "\(error.message)"])
                    damaged?(error)
                }
            }
            // `next` moves past `after` (the vault checks the page), so this ends.
            guard let next else { break }
            query.after = next
        }
        if !force {
            provider.metrics.refresherLag(.seconds(max(0, mostOverdue.map { now.timeIntervalSince($0) } ?? 0)))
        }
        return due
    }

    /// The accounts a pass without `force` leaves out, as stored (metadata only, not authenticated: for reporting
    /// them, never for sending anything): `reauth-required` accounts, and accounts backing off after failed
    /// refreshes (next attempt time still to come). `basic` accounts have no token and are not listed. Paged like
    /// ``dueAccounts(force:damaged:)``; a row that cannot be decoded is left to that method to report.
    public func skippedAccounts(now: Date = Date()) async throws -> [Account] {
        var query = DueAccountQuery(expiringBefore: now, now: now, everyTokenAccount: true)
        var skipped: [Account] = []
        while true {
            let (page, next) = try await provider.vault.dueAccounts(query)
            for case .success(let account) in page
            where account.status == .reauthRequired || (account.nextAttemptAt.map { $0 > now } ?? false) {
                skipped.append(account)
            }
            guard let next else { break }
            query.after = next
        }
        return skipped
    }

    /// Records the accounts by status (``TokenMetrics/accounts``): one metadata query, no sealed value read. A store
    /// that cannot answer leaves the gauges as they were (the pass itself reports the failure).
    func recordAccountCounts() async {
        do {
            provider.metrics.accounts(try await provider.vault.accountCounts())
        } catch {
            logger.warning("could not count the accounts by status", metadata: ["error": "\(error)"])
        }
    }

    /// The keep-alive bound of a pass starting at `now`: accounts last refreshed at or before it are due.
    private func keepAliveBefore(_ now: Date) -> Date? {
        configuration.maxRefreshTokenAge.map { now.addingTimeInterval(-$0.inSeconds) }
    }

    /// Refreshes `names` (or the due accounts) once, and returns one outcome per account in input order — fewer when
    /// graceful shutdown stopped the pass early (the accounts not started have none).
    ///
    /// `progress` is called as each account finishes, with the number finished and the total; `damaged` with each
    /// record skipped because it cannot be decoded (see ``dueAccounts(force:damaged:)``).
    public func refreshDue(
        force: Bool = false,
        names: [AccountName]? = nil,
        progress: (@Sendable (Outcome, _ finished: Int, _ total: Int) -> Void)? = nil,
        damaged: (@Sendable (VaultError) -> Void)? = nil
    ) async throws -> [Outcome] {
        try await refreshDue(force: force, names: names, keepingOutcomes: true, damaged: damaged, progress: progress)
    }

    /// ``refreshDue(force:names:progress:damaged:)``; without `keepingOutcomes` the result is empty and each outcome
    /// (with its token) lives only as long as `progress` keeps it.
    func refreshDue(
        force: Bool = false,
        names: [AccountName]? = nil,
        keepingOutcomes: Bool,
        damaged: (@Sendable (VaultError) -> Void)? = nil,
        progress: (@Sendable (Outcome, _ finished: Int, _ total: Int) -> Void)?
    ) async throws -> [Outcome] {
        let targets: [AccountName]
        if let names { targets = names } else { targets = try await dueAccounts(force: force, damaged: damaged) }
        guard !targets.isEmpty else { return [] }
        let limiter = configuration.maxRequestsPerSecond.map { RateLimiter(perSecond: $0) }
        // A periodic pass re-checks each account's expiry under its lock (the list may be minutes old, and another
        // instance may have refreshed meanwhile); named accounts and `force` always go to the server.
        let periodic = names == nil && !force
        let window: Duration? = periodic ? configuration.ahead : nil
        let keepAliveBound = periodic ? keepAliveBefore(Date()) : nil
        let jitter = configuration.jitter
        let provider = self.provider
        var outcomes = [Outcome?](repeating: nil, count: keepingOutcomes ? targets.count : 0)
        await withTaskGroup(of: (Int, Outcome)?.self) { group in
            var next = 0
            func start() {
                let index = next
                let name = targets[index]
                next += 1
                group.addTask {
                    do {
                        if jitter > .zero { try await Task.sleep(for: Backoff.jittered(jitter)) }
                        try await limiter?.acquire()
                        // Graceful shutdown began while this one waited to start: it does not start.
                        guard !Task.isShuttingDownGracefully else { return nil }
                        let token = try await provider.refresh(
                            name,
                            retryReauthorization: force,
                            ifExpiringWithin: window,
                            orLastRefreshedBefore: keepAliveBound
                        )
                        return (index, Outcome(account: name, result: .success(token)))
                    } catch {
                        return (index, Outcome(account: name, result: .failure(error)))
                    }
                }
            }
            for _ in 0..<min(max(1, configuration.concurrency), targets.count) { start() }
            var finished = 0
            var unreachableInARow = 0
            for await result in group {
                guard let (index, outcome) = result else { continue }
                if keepingOutcomes { outcomes[index] = outcome }
                finished += 1
                progress?(outcome, finished, targets.count)
                if case .failure(let error as OAuthError) = outcome.result, error.code == .unreachable {
                    unreachableInARow += 1
                } else {
                    unreachableInARow = 0
                }
                if let limit = configuration.stopAfterConsecutiveUnreachable, unreachableInARow >= max(1, limit) {
                    break  // the refreshes in flight finish below; no new one starts
                }
                // Graceful shutdown: the refreshes in flight finish (and commit); no new one starts.
                if next < targets.count && !Task.isShuttingDownGracefully { start() }
            }
            // Stopped early: the refreshes in flight finish and commit; the rest are reported as not attempted.
            for await result in group {
                guard let (index, outcome) = result else { continue }
                if keepingOutcomes { outcomes[index] = outcome }
                finished += 1
                progress?(outcome, finished, targets.count)
            }
            if next < targets.count && !Task.isShuttingDownGracefully {
                let stopped = NotAttempted(consecutiveUnreachable: unreachableInARow)
                for index in next..<targets.count {
                    let outcome = Outcome(account: targets[index], result: .failure(stopped))
                    if keepingOutcomes { outcomes[index] = outcome }
                }
            }
        }
        return outcomes.compactMap { $0 }
    }
}

/// The counts of a periodic pass, as its outcomes arrive.
private final class PassTally: Sendable {
    private let state = Mutex((refreshed: 0, failed: 0))

    func add(_ outcome: TokenRefresher.Outcome) {
        state.withLock { counts in
            if case .success = outcome.result { counts.refreshed += 1 } else { counts.failed += 1 }
        }
    }

    var counts: (refreshed: Int, failed: Int) { state.withLock { $0 } }
}
