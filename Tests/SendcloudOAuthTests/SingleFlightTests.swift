import AsyncHTTPClient
import CredentialVault
import CredentialVaultSQLite
import Foundation
import InMemoryLogging
import Logging
import NIOCore
import NIOHTTP1
import SendcloudOAuth
import SendcloudTesting
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@Suite("Single flight and the refresher")
struct SingleFlightTests {
    @Test(
        "1,000 concurrent accessToken calls on an expired account → one token request; callers share the flight, not the lock"
    )
    func thousandCallers() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            try await h.addRefreshAccount("other")
            // The store's lock alone would also give one token request (each waiter re-reads the stored result), with
            // 1,000 acquisitions; the in-process single flight joins callers to one flight instead. (A caller that read
            // the expired record just before the flight committed, and asks just after it ended, starts a flight of
            // its own, which re-reads and sends nothing: so "a few", not exactly one, on a loaded machine.)
            let store = InstrumentedStore(try SQLiteCredentialStore(path: h.path))
            let provider = TokenProvider(
                vault: try await CredentialVault.open(store, with: .key(h.key), logger: h.logger),
                client: TokenEndpointClient(httpClient: h.http, configuration: h.clientConfiguration, logger: h.logger),
                logger: h.logger
            )
            h.server.injectFaults([.slow(seconds: 0.2)])  // keep the refresh in flight while callers pile up
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<1000 { group.addTask { try await provider.accessToken(for: "acme").value.string } }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect((1..<10).contains(store.acquisitions(of: "acme")), "\(store.acquisitions(of: "acme"))")
            #expect(store.acquisitions(of: "other") == 0)
            #expect(tokens.count == 1000)
            #expect(Set(tokens).count == 1)
            #expect(h.server.stats.tokenRequests == 1)
            #expect(h.server.stats.refreshGrants == 1)
            #expect(h.server.isAccessTokenValid(tokens[0]))
            print("single flight, one process: 1000 callers -> \(h.server.stats.tokenRequests) token request(s)")
        }
    }

    @Test("two vault instances of one file (as two processes) refreshing at once → one token request")
    func twoInstances() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            try await h.withSecondProvider { second in
                h.server.injectFaults([.slow(seconds: 0.3)])
                async let a = h.provider.accessToken(for: "acme")
                async let b = second.accessToken(for: "acme")
                let (x, y) = try await (a, b)
                #expect(x.value == y.value)
                #expect(h.server.stats.tokenRequests == 1)
                #expect(h.server.stats.invalidGrant == 0)
            }
        }
    }

    @Test("a refresh in flight for one account does not block another account")
    func otherAccountsNotBlocked() async throws {
        try await withHarness { h in
            try await h.addClientCredentialsAccount("slow")
            try await h.addClientCredentialsAccount("fast")
            // A provider whose timeouts comfortably exceed the held-up answer, so nothing is retried.
            var patient = h.clientConfiguration
            patient.requestTimeout = .seconds(300)
            patient.overallTimeout = .seconds(300)
            // Its HTTP client too: the harness's has a 5 s read timeout, which a loaded machine reaches while the
            // first request is held (the client then retries it, and the count below is off by one).
            let patientHTTP = TokenEndpointClient.makeHTTPClient(configuration: patient)
            defer { Task { try? await patientHTTP.shutdown() } }
            let provider = TokenProvider(
                vault: h.vault,
                client: TokenEndpointClient(httpClient: patientHTTP, configuration: patient, logger: h.logger),
                logger: h.logger
            )
            // Held at the server until released below (not for a fixed time the second request must beat).
            h.server.injectFaults([.slow(seconds: 240)])
            let slowTask = Task { try await provider.accessToken(for: "slow") }
            // Wait until the slow request has reached the server (and taken the fault).
            while h.server.stats.tokenRequests == 0 { try await Task.sleep(for: .milliseconds(5)) }
            // The second request is not faulted: it completes while the first is still held up.
            _ = try await provider.accessToken(for: "fast")
            #expect(h.server.stats.clientCredentialsGrants == 1)
            h.server.releaseHeldRequests()
            _ = try await slowTask.value
            #expect(h.server.stats.clientCredentialsGrants == 2)
        }
    }

    @Test("a lock held elsewhere past the lock timeout → lockTimeout; the account is untouched and works afterwards")
    func lockTimeout() async throws {
        try await withHarness { h in
            let rt = try await h.addRefreshAccount("acme")
            var configuration = TokenProvider.Configuration()
            configuration.lockTimeout = .milliseconds(200)
            let provider = TokenProvider(
                vault: h.vault,
                client: TokenEndpointClient(httpClient: h.http, configuration: h.clientConfiguration, logger: h.logger),
                configuration: configuration,
                logger: h.logger
            )
            // Another holder (a separate store instance: another open file description, as another process).
            let other = try SQLiteCredentialStore(path: h.path)
            let holding = AsyncStream.makeStream(of: Void.self)
            let release = AsyncStream.makeStream(of: Void.self)
            let holder = Task {
                try await other.withAccountLock("acme", timeout: .seconds(5)) {
                    holding.continuation.yield()
                    for await _ in release.stream { break }
                }
            }
            for await _ in holding.stream { break }
            do {
                _ = try await provider.accessToken(for: "acme")
                Issue.record("expected a lock timeout")
            } catch let error as VaultError {
                #expect(error.code == .lockTimeout)
            }
            #expect(h.server.stats.tokenRequests == 0)
            release.continuation.yield()
            try await holder.value
            #expect(try await h.vault.openAccount(named: "acme").secrets.refreshToken?.string == rt)
            _ = try await provider.accessToken(for: "acme")
        }
    }

    @Test("the refresher refreshes due accounts only; force adds reauth-required ones, never basic ones")
    func refresher() async throws {
        try await withHarness { h in
            for i in 0..<6 { try await h.addRefreshAccount(try AccountName("due-\(i)")) }
            try await h.addClientCredentialsAccount("cc")
            try await h.addRefreshAccount("fresh")
            _ = try await h.provider.accessToken(for: "fresh")
            try await h.addRefreshAccount("broken", refreshToken: "rt_unknown")
            try await h.vault.addAccount(
                Account(name: "legacy", mode: .basic, clientID: "p", tokenURL: h.server.tokenURL),
                secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "s"))
            )
            _ = try? await h.provider.accessToken(for: "broken")
            h.server.resetStats()

            var configuration = TokenRefresher.Configuration()
            configuration.concurrency = 3
            configuration.jitter = .milliseconds(20)
            configuration.maxRequestsPerSecond = 50
            let refresher = TokenRefresher(provider: h.provider, configuration: configuration, logger: h.logger)
            let due = try await refresher.dueAccounts()
            #expect(Set(due.map(\.rawValue)) == Set((0..<6).map { "due-\($0)" } + ["cc"]))
            let outcomes = try await refresher.refreshDue()
            #expect(outcomes.count == 7)
            #expect(outcomes.allSatisfy { if case .success = $0.result { true } else { false } })
            #expect(h.server.stats.refreshGrants == 6)
            #expect(h.server.stats.clientCredentialsGrants == 1)
            #expect(h.server.stats.maxConcurrentTokenRequests <= 3)
            #expect(try await refresher.dueAccounts().isEmpty)

            // force: everything but basic, reauth-required included (which fails again here).
            let forced = try await refresher.refreshDue(force: true)
            #expect(forced.count == 9)
            #expect(forced.filter { if case .failure = $0.result { true } else { false } }.map(\.account) == ["broken"])
        }
    }

    @Test("a periodic pass re-checks expiry under the lock: an account refreshed meanwhile is not refreshed again")
    func refresherRechecksUnderLock() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            var configuration = TokenRefresher.Configuration()
            configuration.jitter = .zero
            let refresher = TokenRefresher(provider: h.provider, configuration: configuration, logger: h.logger)
            #expect(try await refresher.dueAccounts() == ["acme"])
            // Another instance refreshes it after the list was made...
            _ = try await h.withSecondProvider { other in try await other.accessToken(for: "acme") }
            // ...so a new pass finds nothing due, and a refresh from a stale list (ifExpiringWithin, as a pass
            // uses) takes the stored token under the lock instead of refreshing again.
            #expect(try await refresher.refreshDue().isEmpty)
            #expect(h.server.stats.refreshGrants == 1)
            let forcedByName = try await refresher.refreshDue(names: ["acme"])
            #expect(forcedByName.count == 1)
            #expect(h.server.stats.refreshGrants == 2)
            let token = try await h.provider.refresh("acme", ifExpiringWithin: .seconds(300))
            #expect(!token.obtainedFromServer)
            #expect(h.server.stats.refreshGrants == 2)
        }
    }

    @Test("the refresher's concurrency bound holds at the server: never more token requests in flight than configured")
    func refresherConcurrencyBound() async throws {
        try await withHarness { h in
            for i in 0..<9 { try await h.addRefreshAccount(try AccountName("due-\(i)")) }
            // Every request is held at the server, so that refreshes that are allowed to overlap do.
            h.server.setPermanentFault(.slow(seconds: 0.5))
            var configuration = TokenRefresher.Configuration()
            configuration.concurrency = 3
            configuration.jitter = .zero
            let refresher = TokenRefresher(provider: h.provider, configuration: configuration, logger: h.logger)
            let outcomes = try await refresher.refreshDue()
            #expect(outcomes.count == 9)
            #expect(outcomes.allSatisfy { if case .success = $0.result { true } else { false } })
            #expect(h.server.stats.refreshGrants == 9)
            // Measured by the server: the bound holds, and the refreshes did run side by side (so the measurement
            // sees concurrency when there is some).
            let observed = h.server.stats.maxConcurrentTokenRequests
            #expect(observed <= 3, "the server saw \(observed) token requests at once")
            #expect(observed >= 2, "the refreshes never overlapped: the bound was not exercised")
        }
    }

    @Test("the refresher's rate cap holds at the server: no 1-second window holds more than cap + burst arrivals")
    func refresherRateCap() async throws {
        try await withHarness { h in
            let count = 6
            for i in 0..<count { try await h.addRefreshAccount(try AccountName("due-\(i)")) }
            // Warm up what a first request pays for (connections, the vault's pages), so that the measured
            // requests take alike long from the limiter to the server.
            try await h.addClientCredentialsAccount("warm-up")
            var warmUp = TokenRefresher.Configuration()
            warmUp.jitter = .zero
            _ = try await TokenRefresher(provider: h.provider, configuration: warmUp, logger: h.logger)
                .refreshDue(names: ["warm-up", "warm-up"])
            h.server.resetStats()

            var configuration = TokenRefresher.Configuration()
            configuration.concurrency = count  // only the cap holds the requests back
            configuration.jitter = .zero
            configuration.maxRequestsPerSecond = 1
            let refresher = TokenRefresher(provider: h.provider, configuration: configuration, logger: h.logger)
            let outcomes = try await refresher.refreshDue(names: (0..<count).map { try AccountName("due-\($0)") })
            #expect(outcomes.count == count)
            #expect(outcomes.allSatisfy { if case .success = $0.result { true } else { false } })
            let arrivals = h.server.tokenRequestArrivals.sorted()
            try #require(arrivals.count == count)
            // The cap is a token bucket of one second's worth (1 at once), refilled at 1 per second: in any window
            // [t, t + 1 s) at most 1 + 1 requests may start. The server sees them after the client's own work (lock,
            // vault read, connection), whose length varies between requests on a loaded machine; a slow cap leaves
            // room for that. Only this lower bound on the spacing is asserted, never how long the pass took.
            let cap = 1
            let burst = 1
            var busiest = 0
            for (i, start) in arrivals.enumerated() {
                busiest = max(busiest, arrivals[i...].prefix { $0 - start < .seconds(1) }.count)
            }
            let offsets = arrivals.map { $0 - arrivals[0] }
            #expect(busiest <= cap + burst, "\(busiest) token requests arrived within one second: \(offsets)")
        }
    }

    @Test("the refresher runs as a Service in a ServiceGroup and stops on the group's graceful shutdown")
    func refresherService() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            var configuration = TokenRefresher.Configuration()
            // After its first pass the refresher sleeps for an hour: only the graceful shutdown can end it.
            configuration.interval = .seconds(3600)
            configuration.jitter = .zero
            let refresher = TokenRefresher(provider: h.provider, configuration: configuration, logger: h.logger)
            let group = ServiceGroup(
                configuration: .init(services: [refresher], gracefulShutdownSignals: [], logger: h.logger)
            )
            let ended = Mutex(false)
            let running = Task {
                defer { ended.withLock { $0 = true } }
                try await group.run()
            }
            for _ in 0..<1500 where h.server.stats.refreshGrants == 0 { try await Task.sleep(for: .milliseconds(20)) }
            try #require(h.server.stats.refreshGrants == 1, "the refresher's first pass did not refresh")
            #expect(!ended.withLock { $0 }, "the service group ended before its graceful shutdown")
            await group.triggerGracefulShutdown()
            // run() returns without an error only if the refresher returned on the graceful shutdown (a service
            // that ends on its own, or throws, makes the group throw).
            try await running.value
            #expect(h.server.stats.refreshGrants == 1)
            #expect(try await h.vault.account(named: "acme").accessTokenExpiresAt != nil)
        }
    }

    @Test("logs of refreshes, failures and reauthorization contain no token or secret")
    func logsHaveNoSecrets() async throws {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in handler }
        logger.logLevel = .trace
        try await withHarness(logger: logger) { h in
            let rt = try await h.addRefreshAccount("acme")
            try await h.addClientCredentialsAccount("cc")
            let token = try await h.provider.accessToken(for: "acme")
            let cc = try await h.provider.accessToken(for: "cc")
            h.server.injectFaults([.internalServerError, .nonJSON200])
            _ = try? await h.provider.refresh("acme")
            try await h.addRefreshAccount("bad", refreshToken: "rt_LEAKCHECK_unknown")
            _ = try? await h.provider.accessToken(for: "bad")
            let rotated = try #require(try await h.vault.openAccount(named: "acme").secrets.refreshToken?.string)
            let text = handler.entries.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
            #expect(text.contains("acme"))
            for secret in [
                rt, rotated, token.value.string, cc.value.string, Harness.clientSecret, "rt_LEAKCHECK_unknown",
            ] {
                #expect(!text.contains(secret))
            }
            #expect(!String(describing: token).contains(token.value.string))
        }
    }
}
