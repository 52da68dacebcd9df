// snippet: embedding-events
import Logging
import SendcloudOAuth
import ServiceLifecycle

/// Tells someone when a tenant must authorize again. List it before the vault service: it stops after it.
struct TenantAlerts: Service {
    let events: AsyncStream<AccountEvent>
    let logger: Logger

    func run() async {
        for await event in events {
            switch event.kind {
            case .reauthorizationRequired(let message):
                // A webhook, an email to the merchant, a page: event.account must connect again.
                logger.error(
                    "tenant must authorize again",
                    metadata: ["account": "\(event.account)", "why": "\(message)"]
                )
            case .refreshFailed(let failure, _):
                logger.warning("refresh failed", metadata: ["account": "\(event.account)", "kind": "\(failure)"])
            case .refreshed, .authorized, .reauthorized:
                break
            }
        }
        // The stream ends when the vault service has stopped; wait for the group to stop this service too.
        try? await gracefulShutdown()
    }
}
// end snippet
