import CredentialVault
import Foundation
import InMemoryLogging
import InMemoryTracing
import Logging
import Metrics
import MetricsTestKit
import SendcloudTesting
import Testing
import Tracing

@testable import SendcloudOAuth

/// ``TokenMetrics`` recorded into swift-metrics' test handler, and the spans of a refresh in an in-memory tracer,
/// under the documented names.
@Suite("Metrics and tracing")
struct InstrumentationTests {
    @Test("the metric names are the documented ones")
    func documentedNames() {
        #expect(TokenMetrics.tokenRequests == "sendcloud_vault_token_requests_total")
        #expect(TokenMetrics.refreshDuration == "sendcloud_vault_refresh_duration_seconds")
        #expect(TokenMetrics.lockWait == "sendcloud_vault_lock_wait_duration_seconds")
        #expect(TokenMetrics.accessTokenLookups == "sendcloud_vault_access_token_lookups_total")
        #expect(TokenMetrics.accounts == "sendcloud_vault_accounts")
        #expect(TokenMetrics.refresherLag == "sendcloud_vault_refresher_lag_seconds")
    }

    @Test("a refresh, a memory hit and a failure are counted under the documented names")
    func metricsRecorded() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            try await h.addClientCredentialsAccount("broken")
            let metrics = TestMetrics()
            var configuration = TokenProvider.Configuration()
            configuration.metricsFactory = metrics
            configuration.accessTokenCacheLimit = 10
            let (provider, _) = try await h.countingProvider(configuration)
            _ = try await provider.accessToken(for: "acme")
            _ = try await provider.accessToken(for: "acme")
            h.server.setPermanentFault(.internalServerError)
            await expectOAuthError(.serverError) { try await provider.accessToken(for: "broken") }
            h.server.setPermanentFault(nil)

            let label = TokenMetrics.tokenRequests
            #expect(label == "sendcloud_vault_token_requests_total")
            #expect(
                metrics.counterTotal(label: label, dimensions: [("grant", "refresh_token"), ("outcome", "success")])
                    == 1
            )
            #expect(
                metrics.counterTotal(
                    label: label,
                    dimensions: [("grant", "client_credentials"), ("outcome", "server-error")]
                ) == 1
            )
            let lookups = TokenMetrics.accessTokenLookups
            #expect(metrics.counterTotal(label: lookups, dimensions: [("source", "memory")]) == 1)
            #expect(metrics.counterTotal(label: lookups, dimensions: [("source", "server")]) == 1)
            let refreshTimer = try metrics.expectTimer(TokenMetrics.refreshDuration, [("grant", "refresh_token")])
            #expect(refreshTimer.values.count == 1)
            #expect(refreshTimer.values.allSatisfy { $0 > 0 })
            let lockTimer = try metrics.expectTimer(TokenMetrics.lockWait)
            #expect(lockTimer.values.count == 2)  // acme once, broken once (the memory hit takes no lock)
        }
    }

    @Test("a refresher pass records accounts by status and its lag")
    func gauges() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            try await h.addRefreshAccount("gone", refreshToken: "rt_not_issued_by_the_server")
            let metrics = TestMetrics()
            var configuration = TokenProvider.Configuration()
            configuration.metricsFactory = metrics
            let (provider, _) = try await h.countingProvider(configuration)
            var refresherConfiguration = TokenRefresher.Configuration()
            refresherConfiguration.jitter = .zero
            let refresher = TokenRefresher(provider: provider, configuration: refresherConfiguration, logger: h.logger)
            _ = try await refresher.refreshDue()
            let lag = try metrics.expectGauge(TokenMetrics.refresherLag)
            #expect(lag.lastValue == 0)  // neither had a token: no expiry to be late against
            await refresher.recordAccountCounts()
            #expect(try metrics.expectGauge(TokenMetrics.accounts, [("status", "ok")]).lastValue == 1)
            #expect(try metrics.expectGauge(TokenMetrics.accounts, [("status", "reauth-required")]).lastValue == 1)
            #expect(try metrics.expectGauge(TokenMetrics.accounts, [("status", "backing-off")]).lastValue == 0)
        }
    }

    @Test("a refresh is traced: lock wait, token grant (client span) and commit, with the account")
    func spans() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            let tracer = InMemoryTracer()
            var configuration = TokenProvider.Configuration()
            configuration.tracer = tracer
            let (provider, _) = try await h.countingProvider(configuration)
            _ = try await provider.accessToken(for: "acme")
            let spans = tracer.finishedSpans
            #expect(
                spans.map(\.operationName).sorted() == [
                    "sendcloud_vault.commit", "sendcloud_vault.lock_wait", "sendcloud_vault.token_grant",
                ]
            )
            let grant = try #require(spans.first { $0.operationName == "sendcloud_vault.token_grant" })
            #expect(grant.kind == .client)
            #expect(grant.attributes["oauth.grant_type"]?.toSpanAttribute() == .string("refresh_token"))
            #expect(spans.allSatisfy { $0.attributes["sendcloud_vault.account"]?.toSpanAttribute() == .string("acme") })
        }
    }
}

@Suite("Per-call logger")
struct PerCallLoggerTests {
    @Test("a caller's logger (and its metadata) carries the call's log lines; the provider's logger gets none")
    func callersLogger() async throws {
        let providerLogs = InMemoryLogHandler()
        try await withHarness(logger: Logger(label: "provider") { _ in providerLogs }) { h in
            try await h.addRefreshAccount("acme")
            let callerLogs = InMemoryLogHandler()
            var logger = Logger(label: "request") { _ in callerLogs }
            logger.logLevel = .debug
            logger[metadataKey: "request-id"] = "r-42"
            _ = try await h.provider.accessToken(for: "acme", logger: logger)
            let refreshed = try #require(callerLogs.entries.first { $0.message.description == "token refreshed" })
            #expect(refreshed.metadata["request-id"] == "r-42")
            #expect(refreshed.metadata["account"] == "acme")
            #expect(!providerLogs.entries.contains { $0.message.description == "token refreshed" })
        }
    }
}
