import Configuration
import CredentialVault
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import SendcloudOAuth
import SendcloudVaultService
import ServiceLifecycle
import UnixSignals

/// A Hummingbird 2 backend that serves several Sendcloud tenants from one vault (README.md beside this file):
///
/// - `GET /tenants/{name}/user` calls Sendcloud's API (`GET /user/auth/metadata`) as that tenant, through
///   `TokenProvider.execute` (a valid token from memory; on a 401 one refresh and one retry), and returns its JSON;
/// - `GET /connect/{name}` and `GET /oauth/callback`: the web login (`WebLogin`) that stores or re-authorizes a
///   tenant, on whichever instance the callback lands;
/// - `GET /metrics`: swift-metrics through swift-prometheus, the vault's `sendcloud_vault_*` metrics among them.
///
/// The vault's `VaultService` runs in the same `ServiceGroup` as the HTTP server, listed before it, so that on
/// SIGTERM or SIGINT the server stops first and the vault's refreshes in flight still commit.
@main
struct MultiTenantBackend {
    static func main() async throws {
        // Environment variables through swift-configuration; the vault key and passphrase are redacted in its logs.
        let config = ConfigReader(
            provider: EnvironmentVariablesProvider(
                secretsSpecifier: .specific(["SENDCLOUD_VAULT_KEY", "SENDCLOUD_VAULT_PASSPHRASE"])
            )
        )
        let settings = BackendSettings(config: config)
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "multi-tenant-backend")
        logger.logLevel = Logger.Level(rawValue: settings.logLevel) ?? .info

        // Metrics before the vault service: its TokenProvider takes MetricsSystem's factory when it is made.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let vault: VaultService
        let clientSecret: SecureBytes?
        do {
            clientSecret = try settings.clientSecret()
            // The refresher's and provider's settings come from the configuration too (VaultService.Configuration.Key:
            // SENDCLOUD_VAULT_REFRESHER_ENABLED=false when a refresher-worker keeps the tokens fresh).
            vault = try await VaultService.open(config: config, logger: logger)
        } catch {
            // VaultError's and OAuthError's descriptions never hold a secret.
            FileHandle.standardError.write(Data("multi-tenant-backend: cannot start: \(error)\n".utf8))
            exit(78)
        }

        let address = ListeningAddress()
        let router = Router()
        router.middlewares.add(MetricsMiddleware())
        TenantRoutes(vault: vault, apiURL: settings.apiURL).register(on: router)
        LoginRoutes(
            vault: vault,
            settings: settings,
            clientSecret: clientSecret,
            address: address
        ).register(on: router)
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }

        let host = settings.host
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: settings.port)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                let url = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
                address.set(url)
                print("listening on \(url)")
                fflush(nil)
            },
            logger: logger
        )
        // Shut down in reverse order: the HTTP server, then the vault service, then the event log.
        let group = ServiceGroup(
            services: [AccountEventLog(provider: vault.provider, logger: logger), vault, app],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
    }
}
