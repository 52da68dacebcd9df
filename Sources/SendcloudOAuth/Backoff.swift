import Foundation

/// Capped exponential backoff with full jitter, honouring `Retry-After`.
///
/// After failed attempt *n* (1-based) the wait is a random duration in `0 ... min(initial · 2ⁿ⁻¹, maximum)`; a
/// server's `Retry-After` is a lower bound, and one longer than ``maxRetryAfter`` ends the retries.
struct Backoff: Sendable {
    /// The limit after the first failed attempt; doubled per attempt.
    var initial: Duration
    /// The largest limit.
    var maximum: Duration
    /// The longest `Retry-After` honoured.
    var maxRetryAfter: Duration

    /// The upper bound of the wait after failed attempt `attempt` (1-based): `initial · 2^(attempt-1)`, capped at
    /// ``maximum``.
    func limit(afterAttempt attempt: Int) -> Duration {
        let exponential = initial * (1 << min(max(attempt, 1) - 1, 16))
        return min(exponential, maximum)
    }

    /// The wait after failed attempt `attempt`: jittered below ``limit(afterAttempt:)``, at least `retryAfter`.
    /// `nil` when `retryAfter` exceeds ``maxRetryAfter`` (the caller gives up).
    func delay(afterAttempt attempt: Int, retryAfter: Duration?) -> Duration? {
        var generator = SystemRandomNumberGenerator()
        return delay(afterAttempt: attempt, retryAfter: retryAfter, using: &generator)
    }

    /// ``delay(afterAttempt:retryAfter:)`` with a given source of randomness.
    func delay(
        afterAttempt attempt: Int,
        retryAfter: Duration?,
        using generator: inout some RandomNumberGenerator
    ) -> Duration? {
        let delay = Self.jittered(limit(afterAttempt: attempt), using: &generator)
        guard let retryAfter else { return delay }
        guard retryAfter <= maxRetryAfter else { return nil }
        return max(delay, retryAfter)
    }

    /// A random duration in `0 ... limit` (full jitter), in whole nanoseconds; zero for a limit of zero or less.
    static func jittered(_ limit: Duration) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return jittered(limit, using: &generator)
    }

    /// ``jittered(_:)`` with a given source of randomness.
    static func jittered(_ limit: Duration, using generator: inout some RandomNumberGenerator) -> Duration {
        let nanos = limit.inNanoseconds
        guard nanos > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...nanos, using: &generator))
    }

    /// A `Retry-After` value (RFC 9110 §10.2.3) as a duration from `now`: delay-seconds, or an HTTP date (a past
    /// date is zero). `nil` for anything else.
    static func retryAfter(_ value: String, now: Date = Date()) -> Duration? {
        let value = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(value), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .seconds(max(0, Int(date.timeIntervalSince(now).rounded(.up))))
    }
}
