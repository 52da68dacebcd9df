import Logging
import SendcloudOAuth
import ServiceLifecycle

/// Logs every `AccountEvent` of the provider — where a real backend would send a webhook or page someone when a
/// tenant needs re-authorization. Events carry no secret.
struct AccountEventLog: Service {
    private let events: AsyncStream<AccountEvent>
    private let logger: Logger

    /// Subscribes at once, so that no event between start-up and ``run()`` is missed.
    init(provider: TokenProvider, logger: Logger) {
        events = provider.events()
        self.logger = logger
    }

    func run() async {
        for await event in events.cancelOnGracefulShutdown() {
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
    }
}
