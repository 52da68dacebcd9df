import Logging
import SendcloudOAuth
import ServiceLifecycle

/// Logs every `AccountEvent` of the provider — where a real backend would send a webhook or page someone when a
/// tenant needs re-authorization. Events carry no secret.
///
/// Listed before the vault service in the group, it stops after it: the stream ends when the vault service has
/// stopped (the events of refreshes that finished during shutdown included), then it waits for its own turn.
struct AccountEventLog: Service {
    private let events: AsyncStream<AccountEvent>
    private let logger: Logger

    /// Subscribes at once, so that no event between start-up and ``run()`` is missed.
    init(provider: TokenProvider, logger: Logger) {
        events = provider.events()
        self.logger = logger
    }

    func run() async {
        for await event in events {
            switch event.kind {
            case .refreshed, .authorized, .reauthorized:
                logger.info("account event", metadata: ["account": "\(event.account)", "event": "\(event)"])
            case .refreshFailed:
                logger.warning("account event", metadata: ["account": "\(event.account)", "event": "\(event)"])
            case .reauthorizationRequired:
                logger.error(
                    "tenant must authorize again: send them to /connect/\(event.account)",
                    metadata: ["account": "\(event.account)", "event": "\(event)"]
                )
            }
        }
        // The stream ended because the vault service stopped; the group stops this service next.
        try? await gracefulShutdown()
    }
}
