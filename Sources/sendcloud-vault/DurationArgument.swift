import ArgumentParser
import Foundation

/// A duration on the command line: `20` (seconds), `90s`, `5m`, `1h`, `2d` or `250ms`; at most a year. The help shows
/// defaults in the same form (`5m`, not `300.0 seconds`).
struct DurationArgument: ExpressibleByArgument, Sendable {
    var duration: Duration

    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).lowercased()
        // A bare number is seconds; "ms" is tested before "s".
        let unit = Self.units.first { text.hasSuffix($0.suffix) && Int64(text.dropLast($0.suffix.count)) != nil }
        let number = unit.map { text.dropLast($0.suffix.count) } ?? Substring(text)
        guard let value = Int64(number), value >= 0 else { return nil }
        let (total, overflow) = value.multipliedReportingOverflow(by: unit?.milliseconds ?? 1000)
        guard !overflow, total <= 366 * 86_400_000 else { return nil }  // at most a year
        duration = .milliseconds(total)
    }

    init(_ duration: Duration) { self.duration = duration }

    /// The duration in the largest unit that writes it exactly: `5m`, `7d`, `90s`, `250ms`, `0`.
    var text: String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        guard milliseconds > 0 else { return "0" }
        for unit in Self.units.reversed() where milliseconds % unit.milliseconds == 0 {
            return "\(milliseconds / unit.milliseconds)\(unit.suffix)"
        }
        return "\(milliseconds)ms"
    }

    var defaultValueDescription: String { text }

    static var defaultCompletionKind: CompletionKind { .default }
}
