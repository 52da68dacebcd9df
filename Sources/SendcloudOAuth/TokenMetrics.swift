import CredentialVault
import Foundation
import Metrics

/// The metrics of ``TokenProvider`` and ``TokenRefresher`` (swift-metrics), named by Prometheus' and
/// OpenTelemetry's conventions: snake case, a `sendcloud_vault_` prefix, the unit as suffix, `_total` on counters.
///
/// | Name | Type | Dimensions | What |
/// |---|---|---|---|
/// | `sendcloud_vault_token_requests_total` | counter | `grant`, `outcome` | token endpoint requests (`outcome`: `success` or the ``OAuthError/Code``, e.g. `reauth-required`, `unreachable`) |
/// | `sendcloud_vault_refresh_duration_seconds` | timer | `grant` | a successful grant plus its commit |
/// | `sendcloud_vault_lock_wait_duration_seconds` | timer | — | waiting for an account's lock |
/// | `sendcloud_vault_access_token_lookups_total` | counter | `source` | tokens the provider handed out (calls, 401 retries, refresher passes): from `memory`, the `store` or the `server` |
/// | `sendcloud_vault_accounts` | gauge | `status` | accounts by `ok`, `reauth-required`, `backing-off`, `unknown` (each refresher pass) |
/// | `sendcloud_vault_refresher_lag_seconds` | gauge | — | how long the most overdue account has been due at the start of a pass |
///
/// Dimensions never carry an account name (unbounded cardinality) or a secret.
public struct TokenMetrics: Sendable {
    /// `sendcloud_vault_token_requests_total`.
    public static let tokenRequests = "sendcloud_vault_token_requests_total"
    /// `sendcloud_vault_refresh_duration_seconds`.
    public static let refreshDuration = "sendcloud_vault_refresh_duration_seconds"
    /// `sendcloud_vault_lock_wait_duration_seconds`.
    public static let lockWait = "sendcloud_vault_lock_wait_duration_seconds"
    /// `sendcloud_vault_access_token_lookups_total`.
    public static let accessTokenLookups = "sendcloud_vault_access_token_lookups_total"
    /// `sendcloud_vault_accounts`.
    public static let accounts = "sendcloud_vault_accounts"
    /// `sendcloud_vault_refresher_lag_seconds`.
    public static let refresherLag = "sendcloud_vault_refresher_lag_seconds"

    let factory: any MetricsFactory

    /// Metrics made by `factory` (`nil`: the process's `MetricsSystem`).
    init(factory: (any MetricsFactory)?) { self.factory = factory ?? MetricsSystem.factory }

    func tokenRequest(grant: String, outcome: String) {
        Counter(label: Self.tokenRequests, dimensions: [("grant", grant), ("outcome", outcome)], factory: factory)
            .increment()
    }

    func refreshed(grant: String, after duration: Duration) {
        Metrics.Timer(label: Self.refreshDuration, dimensions: [("grant", grant)], factory: factory)
            .recordNanoseconds(duration.inNanoseconds)
    }

    func lockWaited(_ duration: Duration) {
        Metrics.Timer(label: Self.lockWait, factory: factory).recordNanoseconds(duration.inNanoseconds)
    }

    /// Where an access token came from.
    enum Source: String { case memory, store, server }

    func lookup(_ source: Source) {
        Counter(label: Self.accessTokenLookups, dimensions: [("source", source.rawValue)], factory: factory).increment()
    }

    func accounts(_ counts: AccountCounts) {
        for (status, count) in [
            ("ok", counts.ok), ("reauth-required", counts.reauthRequired), ("backing-off", counts.backingOff),
            ("unknown", counts.other),
        ] {
            Gauge(label: Self.accounts, dimensions: [("status", status)], factory: factory).record(count)
        }
    }

    func refresherLag(_ duration: Duration) {
        Gauge(label: Self.refresherLag, factory: factory).record(duration.inSeconds)
    }
}
