import NIOCore

/// The module's conversions between `Duration` and seconds or NIO time amounts, in one place.
extension Duration {
    /// The duration in seconds, with the fraction (for `Date` arithmetic).
    var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The duration in whole nanoseconds (attoseconds below a nanosecond are dropped).
    var inNanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }

    /// The duration as a SwiftNIO `TimeAmount`.
    var timeAmount: TimeAmount { .nanoseconds(inNanoseconds) }
}
