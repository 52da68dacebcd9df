import AsyncHTTPClient
import Configuration
import CredentialVault
import CredentialVaultPostgres
import CredentialVaultSQLite
import Hummingbird
import Logging
import SendcloudOAuth
import SendcloudVaultService
import ServiceLifecycle
import UnixSignals

/// README.md's "Using the library", each block in the context it needs.
func readmeOpenVault(logger: Logger) async throws {
    // snippet: readme-open
    let secret = try VaultUnlockSource.keyFile(path: "/etc/sendcloud-vault.key").secret()  // mode 0600, checked
    let store = try SQLiteCredentialStore(path: "/srv/tenants/vault.sqlite")  // refuses a file others may read
    let vault = try await CredentialVault.open(store, with: secret, logger: logger)
    let (account, secrets) = try await vault.openAccount(named: "acme")
    // end snippet
    _ = (account, secrets)
}

func readmeTokens(vault: CredentialVault, logger: Logger) async throws {
    // snippet: readme-tokens
    let http = TokenEndpointClient.makeHTTPClient()  // no redirects, 10 s connect timeout; shut it down at exit
    let provider = TokenProvider(
        vault: vault,
        client: TokenEndpointClient(httpClient: http, logger: logger),
        logger: logger
    )
    let token = try await provider.accessToken(for: "acme")  // AccessToken; token.authorizationHeaderValue: "Bearer …"
    // Bearer and Basic (API key pair) accounts alike:
    var request = HTTPClientRequest(url: "https://panel.sendcloud.sc/api/v3/user/auth/metadata")
    try await provider.setAuthorization(of: &request, for: "acme")
    try await http.shutdown()
    // end snippet
    _ = token
}

func readmeService(server: some Service, logger: Logger) async throws {
    // snippet: readme-service
    // SENDCLOUD_VAULT (a file or a postgres:// URL) and SENDCLOUD_VAULT_KEY_FILE, read as the CLI reads them:
    let config = ConfigReader(provider: EnvironmentVariablesProvider())
    let vault = try await VaultService.open(config: config, logger: logger)
    let group = ServiceGroup(services: [vault, server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
    // end snippet
}

func readmeRequest(vault: VaultService, tenant: AccountName) async throws {
    // snippet: readme-execute
    let request = HTTPClientRequest(url: "https://panel.sendcloud.sc/api/v3/user/auth/metadata")
    let response = try await vault.provider.execute(request, for: tenant, on: vault.httpClient)  // 401: refresh, retry
    // end snippet
    _ = response
}

func readmePostgres(url: String, secret: UnlockSecret, logger: Logger) async throws {
    // snippet: readme-postgres
    let location = try PostgresLocation(url: url)
    let store = try await PostgresCredentialStore.connect(
        to: location,
        password: try PostgresPassword.resolve(for: location)
    )
    let vault = try await CredentialVault.open(store, with: secret, logger: logger)
    // …; `await store.close()` at exit — or put `store` in your ServiceGroup (before the services that use it).
    // end snippet
    _ = vault
    await store.close()
}
