import Configuration
import CredentialVault
import Logging
import SendcloudOAuth
import SendcloudVaultService

/// Smaller pieces of the article, each in the context it needs.
func secretFromConfiguration(logger: Logger) async throws {
    // snippet: embedding-config
    let config = ConfigReader(
        provider: EnvironmentVariablesProvider(
            secretsSpecifier: .specific(["SENDCLOUD_VAULT_KEY", "SENDCLOUD_VAULT_PASSPHRASE"])
        )
    )
    let vault = try await VaultService.open(config: config, logger: logger)
    // end snippet
    _ = vault
}

func openWithoutConfiguration(logger: Logger) async throws {
    // snippet: embedding-open-location
    let vault = try await VaultService.open(
        location: try VaultLocation("/srv/tenants/vault.sqlite"),
        unlock: try VaultUnlockSource.keyFile(path: "/etc/sendcloud-vault.key").secret(),
        logger: logger
    )
    // end snippet
    _ = vault
}

func instanceWithoutRefresher(config: ConfigReader, logger: Logger) async throws {
    // snippet: embedding-no-refresher
    // The operator's settings (SENDCLOUD_VAULT_REFRESHER_…, SENDCLOUD_VAULT_PROVIDER_…), then this instance's choices:
    var configuration = try VaultService.Configuration(config: config)
    configuration.refresher = nil  // a worker keeps the tokens fresh; this instance still refreshes on demand
    configuration.provider.accessTokenCacheLimit = 50_000  // tokens held in memory, about 1 KiB each
    let vault = try await VaultService.open(config: config, configuration: configuration, logger: logger)
    // end snippet
    _ = vault
}
