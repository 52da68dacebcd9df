/// A token bucket: at most `perSecond` acquisitions per second, bursts of one second's worth.
actor RateLimiter {
    private let perSecond: Double
    private var tokens: Double
    private var last = ContinuousClock.now

    init(perSecond: Double) {
        self.perSecond = max(perSecond, 0.001)
        self.tokens = max(1, perSecond.rounded(.down))
    }

    /// Waits until a request may be sent. Throws `CancellationError` when the task is cancelled while waiting.
    func acquire() async throws {
        while true {
            let now = ContinuousClock.now
            tokens = min(max(1, perSecond.rounded(.down)), tokens + (now - last).inSeconds * perSecond)
            last = now
            if tokens >= 1 {
                tokens -= 1
                return
            }
            let wait = (1 - tokens) / perSecond
            try await Task.sleep(for: .nanoseconds(Int64(wait * 1e9)))
        }
    }
}
