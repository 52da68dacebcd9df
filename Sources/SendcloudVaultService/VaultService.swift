public import AsyncHTTPClient
public import Configuration
public import CredentialVault
import CredentialVaultPostgres
import Foundation
public import Logging
public import SendcloudOAuth
public import ServiceLifecycle
import Synchronization

/// Everything a backend needs for its tenants' tokens, as one swift-service-lifecycle `Service` (DESIGN §7): the
/// unlocked vault and its store, the HTTP client of the token endpoint, the ``TokenProvider`` and — unless turned off —
/// the ``TokenRefresher``.
///
/// ```swift
/// let vault = try await VaultService.open(config: config, logger: logger)
/// let group = ServiceGroup(services: [vault, httpServer], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// // in a request handler:
/// let response = try await vault.provider.execute(request, for: tenant, on: vault.httpClient)
/// ```
///
/// **Order in the group.** A `ServiceGroup` shuts services down in reverse order, so list the service before the HTTP
/// server or worker that uses it: it then stops last, after the last request handler is done with it.
///
/// **Graceful shutdown.** The refresher starts no new refresh; every refresh in flight — the refresher's and request
/// handlers' — finishes and commits its tokens (a rotated refresh token is never dropped); then the event streams
/// end, the HTTP client is shut down and a PostgreSQL store's connections are closed, and ``run()`` returns.
/// Cancellation (not graceful) stops the same way: ``TokenProvider`` runs each refresh in a task of its own, to its
/// end whoever waits for it, and ``shutdown()`` waits for them.
public final class VaultService: Service, Sendable {
    /// The service's settings.
    public struct Configuration: Sendable {
        /// The provider's settings (skew, in-memory tokens, backoff, metrics, tracing); 10,000 accounts' access
        /// tokens are held in memory unless changed.
        public var provider: TokenProvider.Configuration = {
            var provider = TokenProvider.Configuration()
            provider.accessTokenCacheLimit = 10_000
            return provider
        }()
        /// The refresher's settings; `nil` runs no refresher in this instance (another instance or worker keeps the
        /// tokens fresh; calls still refresh on demand).
        public var refresher: TokenRefresher.Configuration? = TokenRefresher.Configuration()
        /// The token endpoint client's settings (timeouts, retries, response size cap).
        public var endpoint = TokenEndpointClient.Configuration()

        /// The defaults: a refresher with its defaults, 10,000 access tokens in memory.
        public init() {}
    }

    /// The unlocked vault.
    public let vault: CredentialVault
    /// Valid access tokens for the vault's accounts, and the request helpers
    /// (``TokenProvider/execute(_:for:on:timeout:logger:)``).
    public let provider: TokenProvider
    /// The HTTP client of the token endpoint (no redirects). A backend may send its API calls with it too; it is
    /// shut down when the service stops.
    public let httpClient: HTTPClient
    /// The refresher, if this instance runs one.
    public let refresher: TokenRefresher?
    private let store: any CredentialStore
    private let logger: Logger
    private let stopped = Mutex(false)

    /// A service over a vault already opened on `store` (which it closes when it stops, if it is a
    /// `PostgresCredentialStore`).
    public init(
        vault: CredentialVault,
        store: any CredentialStore,
        configuration: Configuration = Configuration(),
        logger: Logger
    ) {
        self.vault = vault
        self.store = store
        self.logger = logger
        let httpClient = TokenEndpointClient.makeHTTPClient(configuration: configuration.endpoint)
        let provider = TokenProvider(
            vault: vault,
            client: TokenEndpointClient(httpClient: httpClient, configuration: configuration.endpoint, logger: logger),
            configuration: configuration.provider,
            logger: logger
        )
        self.httpClient = httpClient
        self.provider = provider
        refresher = configuration.refresher.map {
            TokenRefresher(provider: provider, configuration: $0, logger: logger)
        }
    }

    /// Opens the vault at `location` and unlocks it with `secret`. Throws ``VaultError`` (as the CLI reports them).
    public static func open(
        location: VaultLocation,
        unlock secret: UnlockSecret,
        configuration: Configuration = Configuration(),
        logger: Logger
    ) async throws -> VaultService {
        let store = try await location.openStore(create: false, logger: logger)
        do {
            let vault = try await CredentialVault.open(store, with: secret, logger: logger)
            // The caller owns the service from here, and shuts it down (run() does).
            return VaultService(vault: vault, store: store, configuration: configuration, logger: logger)
        } catch {
            await (store as? PostgresCredentialStore)?.close()
            throw error
        }
    }

    /// Opens and unlocks the vault as the CLI does, from the environment: the location in `SENDCLOUD_VAULT` (else the
    /// default file), the secret from the first of `SENDCLOUD_VAULT_KEY_FILE`, `SENDCLOUD_VAULT_KEY`,
    /// `SENDCLOUD_VAULT_KEY_COMMAND`, `SENDCLOUD_VAULT_PASSPHRASE_FILE`, `SENDCLOUD_VAULT_PASSPHRASE`,
    /// `SENDCLOUD_VAULT_PASSPHRASE_COMMAND` (``VaultUnlockSource``; a command runs synchronously, up to its timeout,
    /// ``SecretCommand``). Throws
    /// ``VaultError/Code/invalidInput`` when none is set.
    public static func openFromEnvironment(
        configuration: Configuration = Configuration(),
        logger: Logger
    ) async throws -> VaultService {
        let location = try VaultLocation.fromEnvironment()
        guard let source = VaultUnlockSource.first() else {
            throw VaultError(.invalidInput, "no way to unlock the vault: set \(VaultUnlockSource.sourcesDescription)")
        }
        return try await open(
            location: location,
            unlock: try source.secret(),
            configuration: configuration,
            logger: logger
        )
    }

    /// Opens and unlocks the vault from a swift-configuration reader: the location at `sendcloud_vault.location`
    /// (else `sendcloud_vault`, which is `SENDCLOUD_VAULT` through the environment provider), the secret as
    /// ``VaultUnlockSource/secret(from:)`` reads it, and — unless `configuration` is given — the settings of
    /// ``Configuration/init(config:)``. Throws ``VaultError/Code/invalidInput`` without a location or a secret, or
    /// for a setting out of range.
    public static func open(
        config: ConfigReader,
        configuration: Configuration? = nil,
        logger: Logger
    ) async throws -> VaultService {
        let configuration = try configuration ?? Configuration(config: config)
        guard
            let text = config.string(forKey: "sendcloud_vault.location") ?? config.string(forKey: "sendcloud_vault"),
            !text.isEmpty
        else {
            throw VaultError(
                .invalidInput,
                "no vault location: set sendcloud_vault.location (SENDCLOUD_VAULT_LOCATION)"
            )
        }
        let location = try VaultLocation(text)
        guard let secret = try VaultUnlockSource.secret(from: config) else {
            throw VaultError(
                .invalidInput,
                "no way to unlock the vault: set sendcloud_vault.key_file, sendcloud_vault.key, "
                    + "sendcloud_vault.passphrase_file or sendcloud_vault.passphrase"
            )
        }
        return try await open(location: location, unlock: secret, configuration: configuration, logger: logger)
    }

    /// Runs the refresher (or waits) until graceful shutdown or cancellation, then ``shutdown()``.
    public func run() async throws {
        if let refresher {
            try await refresher.run()
        } else {
            try? await gracefulShutdown()
        }
        logger.info("vault service stopping")
        await shutdown()
    }

    /// Waits for the refreshes in flight (they commit their tokens), ends the event streams
    /// (``TokenProvider/events(bufferingNewest:)``), shuts down the HTTP client and closes a PostgreSQL store's
    /// connections. ``run()`` calls it as it returns; call it yourself for a service that was opened but never run
    /// (AsyncHTTPClient requires its client to be shut down). A second call returns at once. Afterwards, tokens held
    /// in memory are still handed out, but nothing that needs the store or the token endpoint works.
    public func shutdown() async {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        // A request handler's refresh may still be committing a rotated refresh token: let it finish first.
        await provider.waitForRefreshesInFlight()
        provider.finishEvents()
        try? await httpClient.shutdown()
        await (store as? PostgresCredentialStore)?.close()
    }
}
