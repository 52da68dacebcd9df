import Hummingbird
import Logging
import NIOCore

/// The request context of the fake server: Hummingbird's basic context plus the connection's channel, which the
/// `.reset` and `.dropAfterProcessing` faults close without answering.
struct FakeSendcloudContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The connection the request came in on.
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
