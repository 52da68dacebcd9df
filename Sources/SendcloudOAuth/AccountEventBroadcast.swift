import Synchronization

/// Delivers each ``AccountEvent`` to every current subscriber's stream, in the order they were published.
///
/// Publishing never waits: each subscriber has a buffer of the newest events (``TokenProvider/events(bufferingNewest:)``),
/// and a subscriber that does not keep up loses the oldest ones rather than slowing token requests down.
final class AccountEventBroadcast: Sendable {
    private struct State {
        var next = 0
        var subscribers: [Int: AsyncStream<AccountEvent>.Continuation] = [:]
        var finished = false
    }
    private let state = Mutex(State())

    /// A new stream of the events published from now on; it ends when the subscriber stops iterating.
    func subscribe(bufferingNewest limit: Int) -> AsyncStream<AccountEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: AccountEvent.self,
            bufferingPolicy: .bufferingNewest(max(1, limit))
        )
        let id: Int? = state.withLock { state in
            guard !state.finished else { return nil }
            defer { state.next += 1 }
            state.subscribers[state.next] = continuation
            return state.next
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Hands `event` to every subscriber. Under the lock, so that two publishers' events reach every subscriber in one
    /// order.
    func publish(_ event: AccountEvent) {
        state.withLock { state in
            for continuation in state.subscribers.values { continuation.yield(event) }
        }
    }

    /// Ends every stream, and those subscribed later at once.
    func finish() {
        let subscribers = state.withLock { state in
            defer {
                state.subscribers = [:]
                state.finished = true
            }
            return Array(state.subscribers.values)
        }
        for continuation in subscribers { continuation.finish() }
    }
}
