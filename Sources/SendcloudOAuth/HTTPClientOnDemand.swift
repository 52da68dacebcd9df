public import AsyncHTTPClient
import Synchronization

/// An `HTTPClient` made on first use and shut down with ``shutdown()``: a process that finds its token in the vault
/// (the CLI's `token`, most of the time) starts no event loop threads and no connection pool. Measured in
/// BENCHMARKS.md ("The CLI, whole process"): making and shutting down the client was about a tenth of `token`'s
/// time, and its threads make every later page fault of the process cost a TLB shootdown.
///
/// A long-running process makes its requests sooner or later and gains nothing from it: it passes its `HTTPClient`
/// to ``TokenEndpointClient/init(httpClient:configuration:logger:)`` directly.
public final class HTTPClientOnDemand: Sendable {
    private enum State {
        case idle
        case made(HTTPClient)
        case shutDown
    }

    private let state = Mutex(State.idle)
    private let make: @Sendable () -> HTTPClient

    /// A client that `make` creates the first time a request needs one (see
    /// ``TokenEndpointClient/makeHTTPClient(configuration:)``).
    public init(_ make: @escaping @Sendable () -> HTTPClient) {
        self.make = make
    }

    /// The client, made now if this is the first request; `HTTPClientError.alreadyShutdown` after ``shutdown()``.
    func client() throws -> HTTPClient {
        try state.withLock { state in
            switch state {
            case .made(let client):
                return client
            case .idle:
                let client = make()
                state = .made(client)
                return client
            case .shutDown:
                throw HTTPClientError.alreadyShutdown
            }
        }
    }

    /// Whether a request has made the client.
    public var isMade: Bool {
        state.withLock { if case .made = $0 { true } else { false } }
    }

    /// Shuts the client down if one was made; later requests fail as they would on a shut-down `HTTPClient`.
    public func shutdown() async throws {
        let made: HTTPClient? = state.withLock { state in
            defer { state = .shutDown }
            if case .made(let client) = state { return client }
            return nil
        }
        try await made?.shutdown()
    }
}
