public import Foundation

/// How long the refresher leaves an account alone after failed refreshes (DESIGN §5): exponential in the number of
/// consecutive failures, capped, jittered. The time is stored with the account (`nextAttemptAt`), so every instance
/// sharing the vault honours it.
///
/// After failure *n* the wait is a random duration between half and all of `min(initial · 2ⁿ⁻¹, maximum)`: never
/// close to zero (which would let a failing tenant be hammered), and spread so that tenants failing together do not
/// come back together.
public struct FailureBackoff: Sendable, Equatable {
    /// The limit after the first failure; doubled per failure.
    public private(set) var initial: Duration
    /// The largest limit.
    public private(set) var maximum: Duration

    /// 1 minute, doubling to at most 1 hour. Both are kept within 1 second … 1 day, and `maximum` at least
    /// `initial`.
    public init(initial: Duration = .seconds(60), maximum: Duration = .seconds(3600)) {
        let bounds = Duration.seconds(1)...Duration.seconds(86_400)
        self.initial = min(max(initial, bounds.lowerBound), bounds.upperBound)
        self.maximum = min(max(maximum, self.initial), bounds.upperBound)
    }

    /// The next attempt time after `failures` consecutive failures (at least 1), from `now`.
    public func nextAttempt(afterFailures failures: Int, now: Date = Date()) -> Date {
        var generator = SystemRandomNumberGenerator()
        return nextAttempt(afterFailures: failures, now: now, using: &generator)
    }

    /// ``nextAttempt(afterFailures:now:)`` with a given source of randomness.
    public func nextAttempt(
        afterFailures failures: Int,
        now: Date,
        using generator: inout some RandomNumberGenerator
    ) -> Date {
        let limit = Backoff(initial: initial, maximum: maximum, maxRetryAfter: .zero).limit(afterAttempt: failures)
        let half = limit / 2
        return now.addingTimeInterval((half + Backoff.jittered(limit - half, using: &generator)).inSeconds)
    }
}
