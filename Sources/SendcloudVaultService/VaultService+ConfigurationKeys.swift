public import Configuration
public import CredentialVault
import SendcloudOAuth

extension VaultService.Configuration {
    /// The settings ``init(config:)`` reads, under `sendcloud_vault.`; through swift-configuration's
    /// `EnvironmentVariablesProvider` each is the upper-cased name with `_` (`sendcloud_vault.refresher.interval_seconds`
    /// is `SENDCLOUD_VAULT_REFRESHER_INTERVAL_SECONDS`). Durations are in seconds and may have a fraction.
    public enum Key {
        /// `sendcloud_vault.refresher.enabled` (default true): whether this instance runs the refresher.
        public static let refresherEnabled = "sendcloud_vault.refresher.enabled"
        /// `sendcloud_vault.refresher.interval_seconds` (60): time between passes; 1 s … 1 day.
        public static let refresherInterval = "sendcloud_vault.refresher.interval_seconds"
        /// `sendcloud_vault.refresher.ahead_seconds` (300): tokens expiring within this window are due; at most a day.
        public static let refresherAhead = "sendcloud_vault.refresher.ahead_seconds"
        /// `sendcloud_vault.refresher.concurrency` (4): refreshes at the same time; 1 … 1000.
        public static let refresherConcurrency = "sendcloud_vault.refresher.concurrency"
        /// `sendcloud_vault.refresher.jitter_seconds` (2): random delay before each refresh; at most an hour.
        public static let refresherJitter = "sendcloud_vault.refresher.jitter_seconds"
        /// `sendcloud_vault.refresher.max_requests_per_second` (none): cap on token requests; more than 0.
        public static let refresherRate = "sendcloud_vault.refresher.max_requests_per_second"
        /// `sendcloud_vault.refresher.max_refresh_token_age_seconds` (604800, 7 days): keep-alive; 0 turns it off.
        public static let refresherMaxAge = "sendcloud_vault.refresher.max_refresh_token_age_seconds"
        /// `sendcloud_vault.provider.skew_seconds` (60): a token is used while valid this much longer; at most an hour.
        public static let providerSkew = "sendcloud_vault.provider.skew_seconds"
        /// `sendcloud_vault.provider.lock_timeout_seconds` (60): how long to wait for another holder of a lock; 1 s … 1 h.
        public static let providerLockTimeout = "sendcloud_vault.provider.lock_timeout_seconds"
        /// `sendcloud_vault.provider.refused_token_minimum_age_seconds` (30): a 401 to a younger token is not refreshed;
        /// at most an hour.
        public static let providerRefusedTokenMinimumAge = "sendcloud_vault.provider.refused_token_minimum_age_seconds"
        /// `sendcloud_vault.provider.access_token_cache_limit` (10000): access tokens held in memory; 0 holds none.
        public static let providerCacheLimit = "sendcloud_vault.provider.access_token_cache_limit"
    }

    /// The defaults, with every ``Key`` present in `config` applied. Throws ``VaultError/Code/invalidInput``, naming
    /// the key, for a value of the wrong type or out of range (rather than running with a setting nobody chose).
    public init(config: ConfigReader) throws(VaultError) {
        self.init()
        // Every refresher key is read and checked even when the refresher is off: a mistake must not wait until
        // someone turns it on.
        var refresher = self.refresher ?? TokenRefresher.Configuration()
        let day = 86_400.0
        if let value = try Self.seconds(config, Key.refresherInterval, 1...day) { refresher.interval = value }
        if let value = try Self.seconds(config, Key.refresherAhead, 0...day) { refresher.ahead = value }
        if let value = try Self.value(
            config,
            Key.refresherConcurrency,
            { $0.int(forKey: $1) },
            valid: { (1...1000).contains($0) }
        ) {
            refresher.concurrency = value
        }
        if let value = try Self.seconds(config, Key.refresherJitter, 0...3600) { refresher.jitter = value }
        if let value = try Self.value(
            config,
            Key.refresherRate,
            { $0.double(forKey: $1) ?? $0.int(forKey: $1).map(Double.init) },
            valid: { $0.isFinite && $0 > 0 && $0 <= 10_000 }
        ) {
            refresher.maxRequestsPerSecond = value
        }
        if let value = try Self.seconds(config, Key.refresherMaxAge, 0...(366 * day)) {
            refresher.maxRefreshTokenAge = value == .zero ? nil : value
        }
        let enabled = try Self.value(config, Key.refresherEnabled, { $0.bool(forKey: $1) }, valid: { _ in true })
        self.refresher = enabled == false ? nil : refresher
        if let value = try Self.seconds(config, Key.providerSkew, 0...3600) { provider.skew = value }
        if let value = try Self.seconds(config, Key.providerLockTimeout, 1...3600) { provider.lockTimeout = value }
        if let value = try Self.seconds(config, Key.providerRefusedTokenMinimumAge, 0...3600) {
            provider.refusedTokenMinimumAge = value
        }
        if let value = try Self.value(
            config,
            Key.providerCacheLimit,
            { $0.int(forKey: $1) },
            valid: { (0...10_000_000).contains($0) }
        ) {
            provider.accessTokenCacheLimit = value
        }
    }

    /// A duration in seconds at `key`, within `range` (after rounding to milliseconds).
    private static func seconds(
        _ config: ConfigReader,
        _ key: String,
        _ range: ClosedRange<Double>
    ) throws(VaultError) -> Duration? {
        let seconds = try value(
            config,
            key,
            { $0.double(forKey: $1) ?? $0.int(forKey: $1).map(Double.init) },
            valid: { $0.isFinite && range.contains(($0 * 1000).rounded() / 1000) }
        )
        return seconds.map { .milliseconds(Int64(($0 * 1000).rounded())) }
    }

    /// The value at `key` read by `read`, if present; one that does not convert or is not `valid` throws.
    private static func value<T>(
        _ config: ConfigReader,
        _ key: String,
        _ read: (ConfigReader, ConfigKey) -> T?,
        valid: (T) -> Bool
    ) throws(VaultError) -> T? {
        let configKey = ConfigKey(key)
        guard let value = read(config, configKey) else {
            // Present but not convertible: some other type of value is there.
            let present =
                config.string(forKey: configKey) != nil || config.int(forKey: configKey) != nil
                || config.double(forKey: configKey) != nil || config.bool(forKey: configKey) != nil
            if present { throw VaultError(.invalidInput, "\(key) has a value of the wrong type") }
            return nil
        }
        guard valid(value) else { throw VaultError(.invalidInput, "\(key) is out of range") }
        return value
    }
}
