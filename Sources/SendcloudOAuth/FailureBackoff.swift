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
    public var initial: Duration
    /// The largest limit.
    public var maximum: Duration

    /// 1 minute, doubling to at most 1 hour.
    public init(initial: Duration = .seconds(60), maximum: Duration = .seconds(3600)) {
        self.initial = initial
        self.maximum = maximum
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
