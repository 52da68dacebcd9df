// The program of the DocC article "Embedding in a backend" (Sources/SendcloudVaultService/Documentation.docc),
// compiled here so that the article's code is code that builds. Every region between `// snippet: NAME` and
// `// end snippet` appears verbatim in a ```swift block (Tests/ExamplesTests/SnippetTests.swift checks both ways).
// snippet: embedding-main
import Configuration
import CredentialVault
import Hummingbird
import Logging
import Metrics
import Prometheus
import SendcloudOAuth
import SendcloudVaultService
import ServiceLifecycle
import UnixSignals

@main
struct Backend {
    static func main() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "backend")

        // Metrics first: the vault's token provider takes MetricsSystem's factory when it is made.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        // SENDCLOUD_VAULT, and SENDCLOUD_VAULT_KEY_FILE (or _KEY, _PASSPHRASE_FILE, _PASSPHRASE), as the CLI reads them;
        // the two that may hold key material are marked secret, so the provider's descriptions redact them.
        let config = ConfigReader(
            provider: EnvironmentVariablesProvider(
                secretsSpecifier: .specific(["SENDCLOUD_VAULT_KEY", "SENDCLOUD_VAULT_PASSPHRASE"])
            )
        )
        let vault = try await VaultService.open(config: config, logger: logger)
        // Sendcloud's API, or the development endpoint's stand-in (SENDCLOUD_API_URL=http://127.0.0.1:8090/api/v3).
        let api = config.string(forKey: "sendcloud.api_url", default: "https://panel.sendcloud.sc/api/v3")

        let router = Router()
        router.get("/tenants/{name}/user") { _, context in
            guard let tenant = try? AccountName(context.parameters.require("name")) else {
                throw HTTPError(.notFound)
            }
            return try await user(of: tenant, vault: vault, api: api, logger: context.logger)
        }
        try addWebLogin(to: router, vault: vault, config: config)
        router.get("/metrics") { _, _ in registry.emitToString() }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 8080)),
            logger: logger
        )

        // Listed before the server, the vault service stops after it: requests finish, refreshes in flight commit.
        let group = ServiceGroup(
            services: [TenantAlerts(events: vault.provider.events(), logger: logger), vault, app],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
    }
}
// end snippet
