import Foundation
import NIOCore
import Testing

@testable import SendcloudOAuth

@Suite("Backoff: capped exponential limits, full jitter, Retry-After")
struct BackoffTests {
    let backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(8), maxRetryAfter: .seconds(30))

    @Test("the limit doubles per attempt and stops at the cap")
    func limits() {
        #expect(backoff.limit(afterAttempt: 1) == .milliseconds(500))
        #expect(backoff.limit(afterAttempt: 2) == .seconds(1))
        #expect(backoff.limit(afterAttempt: 3) == .seconds(2))
        #expect(backoff.limit(afterAttempt: 5) == .seconds(8))
        #expect(backoff.limit(afterAttempt: 6) == .seconds(8))
        #expect(backoff.limit(afterAttempt: 1_000) == .seconds(8))
    }

    @Test("a delay stays within 0 ... limit")
    func bounds() throws {
        for attempt in 1...8 {
            for _ in 0..<200 {
                let delay = try #require(backoff.delay(afterAttempt: attempt, retryAfter: nil))
                #expect(delay >= .zero)
                #expect(delay <= backoff.limit(afterAttempt: attempt))
            }
        }
    }

    @Test("jitter spreads: not every delay is the same")
    func spreads() {
        let delays = Set((0..<50).compactMap { _ in backoff.delay(afterAttempt: 4, retryAfter: nil) })
        #expect(delays.count > 1)
    }

    @Test("jittered: zero and negative limits give zero; the result is within the limit")
    func jittered() {
        #expect(Backoff.jittered(.zero) == .zero)
        #expect(Backoff.jittered(.seconds(-1)) == .zero)
        for _ in 0..<200 {
            let value = Backoff.jittered(.milliseconds(3))
            #expect(value >= .zero && value <= .milliseconds(3))
        }
    }

    @Test("Retry-After is a lower bound")
    func retryAfterLowerBound() throws {
        for _ in 0..<100 {
            let delay = try #require(backoff.delay(afterAttempt: 1, retryAfter: .seconds(5)))
            #expect(delay == .seconds(5))  // the jittered delay is at most 500 ms
        }
        for _ in 0..<100 {
            let delay = try #require(backoff.delay(afterAttempt: 6, retryAfter: .seconds(1)))
            #expect(delay >= .seconds(1) && delay <= .seconds(8))
        }
    }

    @Test("a Retry-After up to the maximum is honoured; a longer one ends the retries")
    func retryAfterCap() {
        #expect(backoff.delay(afterAttempt: 1, retryAfter: .seconds(30)) == .seconds(30))
        #expect(backoff.delay(afterAttempt: 1, retryAfter: .seconds(31)) == nil)
    }

    @Test("Retry-After values: delay-seconds, HTTP dates, garbage")
    func parsing() {
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(Backoff.retryAfter("120", now: now) == .seconds(120))
        #expect(Backoff.retryAfter(" 0 ", now: now) == .zero)
        #expect(Backoff.retryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now: now) == .seconds(30))
        #expect(Backoff.retryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now: now) == .zero)
        #expect(Backoff.retryAfter("-5", now: now) == nil)
        #expect(Backoff.retryAfter("soon", now: now) == nil)
        #expect(Backoff.retryAfter("", now: now) == nil)
    }

    @Test("Duration conversions")
    func durations() {
        #expect(Duration.milliseconds(1500).inSeconds == 1.5)
        #expect(Duration.milliseconds(1500).inNanoseconds == 1_500_000_000)
        #expect(Duration.seconds(2).timeAmount == .seconds(2))
    }
}
