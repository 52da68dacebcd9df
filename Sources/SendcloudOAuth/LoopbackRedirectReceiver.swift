import CredentialVault
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A one-shot HTTP listener on 127.0.0.1 for the OAuth redirect (RFC 8252 §7.3), on SwiftNIO's HTTP/1 server, so
/// that request parsing and its limits come from a maintained library.
///
/// Any local process can connect to a loopback port, so the listener trusts nothing it receives:
/// - only `GET /callback?…` whose `state` matches the login in progress (``expect(state:)``, compared in constant
///   time) ends the wait — also when it carries `error=`; a callback with another or no `state` is answered with
///   an error page and ignored, and the wait goes on until its timeout;
/// - other paths get 404, other methods 405, request targets over 8 KiB 414;
/// - each connection must deliver its request within 10 s of being accepted (and before the login's deadline),
///   else it is closed: a client that trickles bytes cannot hold the listener, and the wait ends at its timeout
///   whatever connections are open.
public final class LoopbackRedirectReceiver: Sendable {
    /// The bound port.
    public let port: Int
    private let channel: any Channel
    private let inbox = CallbackInbox()

    /// The longest request target accepted.
    static let maximumTargetBytes = 8192
    /// How long one connection may take to deliver its request.
    static let connectionDeadline: TimeAmount = .seconds(10)

    /// The redirect URI to register with the authorization request.
    public var redirectURI: String { "http://127.0.0.1:\(port)/callback" }

    /// Binds 127.0.0.1:`port` (0 = any free port).
    public init(port: Int = 0) async throws(OAuthError) {
        let inbox = self.inbox
        let onCallback: @Sendable ([String: String]) -> Bool = { parameters in inbox.accepts(parameters) }
        let onAnswered: @Sendable ([String: String]) -> Void = { parameters in inbox.finish(.callback(parameters)) }
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 8)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        CallbackHandler(onCallback: onCallback, onAnswered: onAnswered)
                    )
                    channel.eventLoop.scheduleTask(in: Self.connectionDeadline) { channel.close(promise: nil) }
                }
            }
        do {
            channel = try await bootstrap.bind(host: "127.0.0.1", port: port).get()
        } catch {
            throw OAuthError(.authorizationFailed, "cannot listen on 127.0.0.1:\(port): \(error)", underlying: error)
        }
        guard let bound = channel.localAddress?.port else {
            channel.close(promise: nil)
            throw OAuthError(.authorizationFailed, "cannot read the listener's port")
        }
        self.port = bound
    }

    deinit { channel.close(promise: nil) }

    /// Sets the `state` of the login in progress: from now on, a callback carrying it ends the wait. Call it before
    /// the authorize URL is shown, so that no genuine callback can arrive earlier.
    public func expect(state expected: String) {
        inbox.state.withLock { $0.expected = SecureBytes(utf8: expected) }
    }

    /// Waits for the callback whose `state` matches ``expect(state:)`` and returns its query parameters (also when
    /// it reports an error: ``AuthorizationSession/code(from:)`` turns that into one). Throws
    /// ``OAuthError/Code/authorizationFailed`` after `timeout`.
    public func waitForCallback(timeout: Duration) async throws(OAuthError) -> [String: String] {
        let inbox = self.inbox
        let timer = channel.eventLoop.scheduleTask(in: timeout.timeAmount) {
            inbox.finish(.timedOut)
        }
        defer { timer.cancel() }
        let outcome: CallbackInbox.Outcome = await withCheckedContinuation { continuation in
            let ready = inbox.state.withLock { state -> CallbackInbox.Outcome? in
                if let outcome = state.outcome { return outcome }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
        switch outcome {
        case .callback(let parameters): return parameters
        case .timedOut: throw OAuthError(.authorizationFailed, "no redirect arrived before the timeout")
        }
    }

    /// The query parameters of a request target for `/callback` (last value wins), or `nil` for another path.
    package static func callbackParameters(target: String) -> [String: String]? {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.first == "/callback" else { return nil }
        var parameters: [String: String] = [:]
        if parts.count > 1 { for (key, value) in FormEncoding.decode(parts[1]) { parameters[key] = value } }
        return parameters
    }

    /// Stops listening.
    public func close() async {
        try? await channel.close()
    }
}

/// What the receiver is waiting for, and what ended the wait; shared by the listener's connections and the waiter.
final class CallbackInbox: Sendable {
    enum Outcome: Sendable {
        case callback([String: String])
        case timedOut
    }

    struct State: Sendable {
        var expected: SecureBytes?
        /// A callback was accepted: later ones, even with the right state, are ignored.
        var claimed = false
        var outcome: Outcome?
        var waiter: CheckedContinuation<Outcome, Never>?
    }

    let state = Mutex(State())

    /// Whether `parameters` belong to the login in progress (constant-time `state` comparison). The handler ends the
    /// wait with them (``finish(_:)``) only once the browser's page is written, so that the CLI cannot exit before the
    /// browser is answered.
    func accepts(_ parameters: [String: String]) -> Bool {
        state.withLock { state -> Bool in
            guard !state.claimed, state.outcome == nil, let expected = state.expected, let given = parameters["state"]
            else { return false }
            guard SecureBytes(utf8: given) == expected else { return false }
            state.claimed = true
            return true
        }
    }

    /// Ends the wait with `outcome`, unless it has ended already.
    func finish(_ outcome: Outcome) {
        let waiter = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
            guard state.outcome == nil else { return nil }
            state.outcome = outcome
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: outcome)
    }
}

/// Answers one request per connection, then closes it.
final class CallbackHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let onCallback: @Sendable ([String: String]) -> Bool
    private let onAnswered: @Sendable ([String: String]) -> Void
    private var head: HTTPRequestHead?

    /// `onCallback` says whether the parameters belong to the login in progress; `onAnswered` receives them once the
    /// browser's page is written (or the write failed).
    init(
        onCallback: @escaping @Sendable ([String: String]) -> Bool,
        onAnswered: @escaping @Sendable ([String: String]) -> Void
    ) {
        self.onCallback = onCallback
        self.onAnswered = onAnswered
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break  // a GET has no body worth reading; it is discarded as it arrives
        case .end:
            guard let head else { return }
            self.head = nil
            let (status, page, accepted) = answer(head)
            let onAnswered = self.onAnswered
            respond(context, status, page) { if let accepted { onAnswered(accepted) } }
        }
    }

    /// The answer to `head`, and the callback's parameters if they belong to the login in progress.
    private func answer(_ head: HTTPRequestHead) -> (HTTPResponseStatus, String, [String: String]?) {
        guard head.method == .GET else { return (.methodNotAllowed, "Only GET is served here.", nil) }
        guard head.uri.utf8.count <= LoopbackRedirectReceiver.maximumTargetBytes else {
            return (.uriTooLong, "The request is too long.", nil)
        }
        guard let parameters = LoopbackRedirectReceiver.callbackParameters(target: head.uri) else {
            return (.notFound, "Not found.", nil)
        }
        guard onCallback(parameters) else {
            return (.badRequest, "This response does not belong to the login in progress; it was ignored.", nil)
        }
        if parameters["error"] != nil || parameters["code"] == nil {
            return (.badRequest, "Authorization failed. Return to the terminal for details.", parameters)
        }
        return (.ok, "Authorization received. You can close this window and return to the terminal.", parameters)
    }

    private func respond(
        _ context: ChannelHandlerContext,
        _ status: HTTPResponseStatus,
        _ text: String,
        then answered: @escaping @Sendable () -> Void
    ) {
        let html = "<!doctype html><title>sendcloud-vault</title><p>\(text)</p>"
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        headers.add(name: "Content-Length", value: String(html.utf8.count))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: "close")
        let channel = context.channel
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(channel.allocator.buffer(string: html)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
            answered()
        }
    }
}
