import Configuration
import CredentialVault
import SendcloudOAuth
import SendcloudVaultService
import TestSupport
import Testing

/// ``VaultService/Configuration/init(config:)``: the refresher's and provider's settings from a `ConfigReader`.
@Suite("VaultService settings from a ConfigReader")
struct ServiceConfigurationTests {
    static func reader(_ values: [AbsoluteConfigKey: ConfigValue]) -> ConfigReader {
        ConfigReader(provider: InMemoryProvider(values: values))
    }

    @Test("every documented key is applied; nothing set gives the defaults")
    func applied() throws {
        let defaults = try VaultService.Configuration(config: Self.reader([:]))
        #expect(defaults.refresher?.interval == TokenRefresher.Configuration().interval)
        #expect(defaults.provider.accessTokenCacheLimit == 10_000)
        let configuration = try VaultService.Configuration(
            config: Self.reader([
                "sendcloud_vault.refresher.interval_seconds": 30,
                "sendcloud_vault.refresher.ahead_seconds": 120.5,
                "sendcloud_vault.refresher.concurrency": 8,
                "sendcloud_vault.refresher.jitter_seconds": 0,
                "sendcloud_vault.refresher.max_requests_per_second": 1.5,
                "sendcloud_vault.refresher.max_refresh_token_age_seconds": 0,
                "sendcloud_vault.provider.skew_seconds": 90,
                "sendcloud_vault.provider.lock_timeout_seconds": 5,
                "sendcloud_vault.provider.access_token_cache_limit": 0,
            ])
        )
        let refresher = try #require(configuration.refresher)
        #expect(refresher.interval == .seconds(30))
        #expect(refresher.ahead == .milliseconds(120_500))
        #expect(refresher.concurrency == 8)
        #expect(refresher.jitter == .zero)
        #expect(refresher.maxRequestsPerSecond == 1.5)
        #expect(refresher.maxRefreshTokenAge == nil)
        #expect(configuration.provider.skew == .seconds(90))
        #expect(configuration.provider.lockTimeout == .seconds(5))
        #expect(configuration.provider.accessTokenCacheLimit == 0)
        let off = try VaultService.Configuration(config: Self.reader(["sendcloud_vault.refresher.enabled": false]))
        #expect(off.refresher == nil)
        // Turned off, its other settings are still checked.
        expectVaultError(.invalidInput) {
            try VaultService.Configuration(
                config: Self.reader([
                    "sendcloud_vault.refresher.enabled": false, "sendcloud_vault.refresher.concurrency": 0,
                ])
            )
        }
        let integerRate = try VaultService.Configuration(
            config: Self.reader(["sendcloud_vault.refresher.max_requests_per_second": 2])
        )
        #expect(integerRate.refresher?.maxRequestsPerSecond == 2)
    }

    @Test(
        "a value out of range or of the wrong type is refused, naming its key",
        arguments: [
            ("sendcloud_vault.refresher.interval_seconds", ConfigValue(.int(0), isSecret: false)),
            ("sendcloud_vault.refresher.concurrency", ConfigValue(.int(0), isSecret: false)),
            ("sendcloud_vault.refresher.ahead_seconds", ConfigValue(.double(-1), isSecret: false)),
            ("sendcloud_vault.refresher.max_requests_per_second", ConfigValue(.double(0), isSecret: false)),
            ("sendcloud_vault.refresher.interval_seconds", ConfigValue(.double(0.0004), isSecret: false)),
            ("sendcloud_vault.provider.lock_timeout_seconds", ConfigValue(.int(0), isSecret: false)),
            ("sendcloud_vault.provider.skew_seconds", ConfigValue(.double(.nan), isSecret: false)),
            ("sendcloud_vault.provider.access_token_cache_limit", ConfigValue(.int(-5), isSecret: false)),
            ("sendcloud_vault.refresher.concurrency", ConfigValue(.string("many"), isSecret: false)),
            ("sendcloud_vault.refresher.enabled", ConfigValue(.string("perhaps"), isSecret: false)),
        ] as [(String, ConfigValue)]
    )
    func refused(key: String, value: ConfigValue) {
        let error = expectVaultError(.invalidInput) {
            try VaultService.Configuration(config: Self.reader([AbsoluteConfigKey(ConfigKey(key)): value]))
        }
        #expect(error?.message.contains(key) == true)
    }
}
