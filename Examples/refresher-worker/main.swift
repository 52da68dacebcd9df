// A worker that only keeps the vault's tokens fresh (README.md beside this file): the vault's `VaultService` with
// its `TokenRefresher`, and a log line for every `AccountEvent`. No HTTP server; backends that share the vault turn
// their own refresher off (multi-tenant-backend: SENDCLOUD_VAULT_REFRESHER_ENABLED=false) and still refresh on demand.
//
//     SENDCLOUD_VAULT=vault.sqlite SENDCLOUD_VAULT_KEY_FILE=vault.key swift run refresher-worker
//
// SIGTERM or SIGINT stops it gracefully: no new refresh starts, those in flight commit their tokens, exit 0.
import Configuration
import Foundation
import Logging
import SendcloudOAuth
import SendcloudVaultService
import ServiceLifecycle
import UnixSignals

let config = ConfigReader(
    provider: EnvironmentVariablesProvider(
        secretsSpecifier: .specific(["SENDCLOUD_VAULT_KEY", "SENDCLOUD_VAULT_PASSPHRASE"])
    )
)
LoggingSystem.bootstrap(StreamLogHandler.standardError)
var logger = Logger(label: "refresher-worker")
logger.logLevel = config.string(forKey: "log.level").flatMap { Logger.Level(rawValue: $0) } ?? .info

// The refresher's and provider's settings: SENDCLOUD_VAULT_REFRESHER_INTERVAL_SECONDS, …_AHEAD_SECONDS,
// …_CONCURRENCY, …_JITTER_SECONDS, …_MAX_REQUESTS_PER_SECOND, …_MAX_REFRESH_TOKEN_AGE_SECONDS (0 turns keep-alive
// off); see VaultService.Configuration.Key.
var configuration: VaultService.Configuration
do {
    configuration = try VaultService.Configuration(config: config)
} catch {
    FileHandle.standardError.write(Data("refresher-worker: \(error)\n".utf8))
    exit(78)
}
// A worker is for refreshing: SENDCLOUD_VAULT_REFRESHER_ENABLED=false would leave it idle.
guard let refresher = configuration.refresher else {
    FileHandle.standardError.write(Data("refresher-worker: SENDCLOUD_VAULT_REFRESHER_ENABLED is false\n".utf8))
    exit(78)
}
// This process hands out no tokens: keep none in memory.
configuration.provider.accessTokenCacheLimit = 0

let vault: VaultService
do {
    vault = try await VaultService.open(config: config, configuration: configuration, logger: logger)
} catch {
    FileHandle.standardError.write(Data("refresher-worker: cannot start: \(error)\n".utf8))
    exit(78)
}

/// Logs every account event: where a real worker would send a webhook, or page someone when a tenant must
/// authorize again. Events carry no secret.
struct AccountEventLog: Service {
    let events: AsyncStream<AccountEvent>
    let logger: Logger

    func run() async {
        for await event in events {
            let metadata: Logger.Metadata = ["account": "\(event.account)", "event": "\(event)"]
            switch event.kind {
            case .refreshed, .authorized, .reauthorized:
                logger.info("account event", metadata: metadata)
            case .refreshFailed:
                logger.warning("account event", metadata: metadata)
            case .reauthorizationRequired:
                logger.error("account event: the tenant must authorize again", metadata: metadata)
            }
        }
        // The stream ends when the vault service has stopped; the group stops this service next.
        try? await gracefulShutdown()
    }
}

logger.info(
    "refresher-worker running",
    metadata: ["interval": "\(refresher.interval)", "ahead": "\(refresher.ahead)"]
)
// The event log is listed first so that it stops last: its stream ends once the vault service has stopped, after the
// events of the refreshes that finished during shutdown.
let group = ServiceGroup(
    services: [AccountEventLog(events: vault.provider.events(), logger: logger), vault],
    gracefulShutdownSignals: [.sigterm, .sigint],
    logger: logger
)
try await group.run()
logger.info("refresher-worker stopped")
