import ArgumentParser
import CredentialVault
import Foundation
import SendcloudOAuth

/// Writing results: text for people, one JSON document for scripts.
enum Output {
    static func printJSON(_ value: Any) {
        FileHandle.standardOutput.write(jsonData(value) + Data("\n".utf8))
    }

    /// One JSON document in which every character that could drive a terminal is a `\uXXXX` escape (``JSONText``).
    static func jsonData(_ value: Any) -> Data { JSONText.encode(value) }

    /// `text` made inert for a terminal: control characters (C0, DEL, C1), Unicode format characters (bidi
    /// overrides and the like) and line/paragraph separators are written as `\u{XX}`, so that
    /// a stored or server-supplied field cannot move the cursor, recolour the screen or forge output lines.
    static func inert(_ text: String) -> String {
        // Most cells are printable ASCII, which needs no Unicode property lookups (a tenth of `list`'s time).
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if drivesTerminal(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Control characters (C0, DEL, C1), format characters (bidi overrides and the like), line and paragraph
    /// separators, and scalars this Unicode version does not know: what ``inert(_:)`` and ``jsonData(_:)`` escape.
    static func drivesTerminal(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned: true
        default: false
        }
    }

    static func stderr(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func iso8601(_ date: Date?) -> Any {
        guard let date else { return NSNull() }
        return date.formatted(.iso8601)
    }

    /// The JSON object of DESIGN §6 for one account; `secrets` only with `--reveal`.
    static func accountJSON(_ account: Account, secrets: AccountSecrets? = nil) -> [String: Any] {
        var object: [String: Any] = [
            "name": account.name.rawValue,
            "mode": account.mode.rawValue,
            "client_id": account.clientID,
            "scopes": account.scopes ?? NSNull(),
            "token_url": account.tokenURL,
            "status": account.status.rawValue,
            "last_error": account.lastError ?? NSNull(),
            "access_token_expires_at": iso8601(account.accessTokenExpiresAt),
            "refreshed_at": iso8601(account.refreshedAt),
            "created_at": iso8601(account.createdAt),
            "updated_at": iso8601(account.updatedAt),
            "generation": account.generation,
            "has_refresh_token": account.storedFields.contains(.refreshToken),
            "has_access_token": account.storedFields.contains(.accessToken),
            "next_attempt_at": iso8601(account.nextAttemptAt),
            "consecutive_failures": account.consecutiveFailures,
            "health": health(account).rawValue,
            "scope_requested": TokenProvider.Configuration().requestedScope(for: account) ?? NSNull(),
        ]
        if let secrets {
            for field in SecretField.allCases {
                object[field.description] = secrets[field].flatMap { $0.unsafeStringValue() } ?? NSNull()
            }
        }
        return object
    }

    /// "in 42m", "3m ago", "just now", "-": a future date is never "in 0s" (under a second is "in 1s"), a past one
    /// never "in".
    static func relative(_ date: Date?, now: Date = Date()) -> String {
        guard let date else { return "-" }
        let interval = date.timeIntervalSince(now)
        if interval > 0 { return "in \(duration(max(1, Int(interval.rounded(.up)))))" }
        let seconds = Int((-interval).rounded(.down))
        return seconds == 0 ? "just now" : "\(duration(seconds)) ago"
    }

    /// An access token's expiry as `list` and `show` print it: "in 42m", "expired 3m ago", "-" (none, or an account
    /// that needs re-authorization: its token is of no further use).
    static func expiry(_ account: Account, now: Date = Date()) -> String {
        guard account.status != .reauthRequired, let date = account.accessTokenExpiresAt else { return "-" }
        return date > now ? relative(date, now: now) : "expired \(relative(date, now: now))"
    }

    /// What `list` shows as an account's status, and `list --status` filters on: `reauth-required`; `failing` for an
    /// `ok` account whose last refresh failed (it has a last error or counts failures); else `ok`.
    static func health(_ account: Account) -> AccountHealth {
        if account.status == .reauthRequired { return .reauthRequired }
        return account.lastError != nil || account.consecutiveFailures > 0 ? .failing : .ok
    }

    static func duration(_ seconds: Int) -> String {
        if seconds < 120 { return "\(seconds)s" }
        if seconds < 7200 { return "\(seconds / 60)m" }
        if seconds < 172_800 { return "\(seconds / 3600)h" }
        return "\(seconds / 86400)d"
    }

    /// Left-aligned columns separated by two spaces.
    static func table(_ rows: [[String]]) -> String {
        var layout = TableLayout()
        for row in rows { layout.measure(row) }
        return rows.map { layout.line($0) }.joined(separator: "\n")
    }
}

/// The column widths of a table printed a piece at a time (`list` of any number of accounts): measure every row
/// first, then print each. Cells are made ``Output/inert(_:)``; a cell wider than its measured column (a row
/// that changed between the two) is printed whole, never cut.
struct TableLayout {
    private(set) var widths: [Int] = []

    mutating func measure(_ row: [String]) {
        for (index, cell) in row.enumerated() {
            if index == widths.count { widths.append(0) }
            widths[index] = max(widths[index], Output.inert(cell).count)
        }
    }

    func line(_ row: [String]) -> String {
        row.enumerated().map { index, cell in
            let cell = Output.inert(cell)
            guard index < row.count - 1, index < widths.count else { return cell }
            return cell + String(repeating: " ", count: max(0, widths[index] - cell.count))
        }.joined(separator: "  ")
    }
}

/// An account's status as `list` shows it (``Output/health(_:)``).
enum AccountHealth: String, CaseIterable, ExpressibleByArgument {
    case ok
    case failing
    case reauthRequired = "reauth-required"
}
