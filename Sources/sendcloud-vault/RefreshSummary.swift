import CredentialVault
import Foundation
import SendcloudOAuth

/// What one `refresh` run did, as cron and scripts need it: every account refreshed, failed, skipped (needs
/// re-authorization, or backing off) or not attempted (the run stopped early), each failure with the next step; and
/// the exit status that follows from it (DESIGN §6).
struct RefreshSummary {
    struct Failure {
        var account: AccountName
        var error: CLIError
    }

    var refreshed: [(account: AccountName, expiresAt: Date?)] = []
    var failed: [Failure] = []
    /// Accounts the pass left out: `reauth-required`, or backing off.
    var skipped: [Account]
    /// Accounts not tried because the token endpoint was unreachable for several accounts in a row.
    var notAttempted: [AccountName] = []
    var stopReason: String?
    var damaged: [VaultError]

    init(outcomes: [TokenRefresher.Outcome], skipped: [Account], damaged: [VaultError]) {
        self.skipped = skipped
        self.damaged = damaged
        for outcome in outcomes {
            switch outcome.result {
            case .success(let token):
                refreshed.append((outcome.account, token.expiresAt))
            case .failure(let error as TokenRefresher.NotAttempted):
                notAttempted.append(outcome.account)
                stopReason = error.description
            case .failure(let error):
                failed.append(
                    Failure(account: outcome.account, error: ExitStatus.cliError(for: error, account: outcome.account))
                )
            }
        }
    }

    /// Accounts that need re-authorization: failed with `invalid_grant`, or skipped as `reauth-required`.
    var reauthorizationCount: Int {
        failed.filter { $0.error.exitCode == ExitStatus.reauthRequired }.count
            + skipped.filter { $0.status == .reauthRequired }.count
    }

    /// Why `account` was skipped, with the next step.
    static func reason(_ account: Account) -> (kind: String, message: String) {
        if account.status == .reauthRequired {
            return ("reauth-required", "needs re-authorization: run 'sendcloud-vault login \(account.name)'")
        }
        let until = account.nextAttemptAt.map { " until \($0.formatted(.iso8601))" } ?? ""
        return (
            "backing-off",
            "backing off\(until) after \(account.consecutiveFailures) failed refresh(es) "
                + "('sendcloud-vault show \(account.name)' has the last error; 'sendcloud-vault refresh \(account.name)' "
                + "tries now)"
        )
    }

    var json: [String: Any] {
        [
            "refreshed": refreshed.map { ["name": $0.account.rawValue, "expires_at": Output.iso8601($0.expiresAt)] },
            "failed": failed.map { failure -> [String: Any] in
                var object: [String: Any] = [
                    "name": failure.account.rawValue, "code": Int(failure.error.exitCode), "kind": failure.error.kind,
                    "message": failure.error.message,
                ]
                if let detail = failure.error.detail { object["detail"] = detail }
                return object
            },
            "skipped": skipped.map { account -> [String: Any] in
                let (kind, message) = Self.reason(account)
                return [
                    "name": account.name.rawValue, "reason": kind, "message": message,
                    "next_attempt_at": Output.iso8601(account.nextAttemptAt),
                ]
            },
            "not_attempted": notAttempted.map(\.rawValue),
            "damaged": damaged.map(\.message),
        ]
    }

    /// One line per failure, skipped account and damaged record on stderr; the summary on stdout, unless `quiet`
    /// and nothing needs attention.
    func printText(quiet: Bool) {
        for failure in failed { Output.stderr(Output.inert(failure.error.message)) }
        for account in skipped { Output.stderr("skipped '\(account.name)': \(Self.reason(account).message)") }
        for error in damaged { Output.stderr("damaged record skipped: \(Output.inert(error.message)) (see verify)") }
        let needsAttention = !failed.isEmpty || !skipped.isEmpty || !notAttempted.isEmpty || !damaged.isEmpty
        guard needsAttention || !quiet else { return }
        var parts = ["Refreshed \(refreshed.count) account(s)", "\(failed.count) failed"]
        let reauthSkipped = skipped.filter { $0.status == .reauthRequired }.count
        if reauthSkipped > 0 { parts.append("\(reauthSkipped) skipped (need re-authorization)") }
        if skipped.count > reauthSkipped { parts.append("\(skipped.count - reauthSkipped) skipped (backing off)") }
        if !notAttempted.isEmpty { parts.append("\(notAttempted.count) not attempted (token endpoint unreachable)") }
        if !damaged.isEmpty { parts.append("\(damaged.count) damaged record(s) skipped (see verify)") }
        print(parts.joined(separator: "; ") + ".")
    }

    /// The run's failure, if any: 80 when an account needs re-authorization (unless `allowReauth`); 69 when the run
    /// stopped early; else the failures' common code, or 1 if they differ. Backing-off accounts do not fail the run
    /// (their failure was reported when it happened; `show` has it).
    func failure(allowReauth: Bool) -> CLIError? {
        let reauth = reauthorizationCount
        if reauth > 0 && !allowReauth {
            return CLIError(
                exitCode: ExitStatus.reauthRequired,
                kind: "reauth-required",
                message: "\(reauth) account(s) need re-authorization ('sendcloud-vault list --status reauth-required')"
            )
        }
        if !notAttempted.isEmpty {
            return CLIError(
                exitCode: ExitStatus.unavailable,
                kind: "unreachable",
                message: "stopped early, \(notAttempted.count) account(s) \(stopReason ?? "not attempted"); try again "
                    + "when it answers"
            )
        }
        let counted = allowReauth ? failed.filter { $0.error.exitCode != ExitStatus.reauthRequired } : failed
        guard !counted.isEmpty || !damaged.isEmpty else { return nil }
        let codes = Set(counted.map(\.error.exitCode) + (damaged.isEmpty ? [] : [ExitStatus.integrity]))
        let code = codes.count == 1 ? codes.first! : ExitStatus.failure
        return CLIError(
            exitCode: code,
            kind: codes.count == 1 ? (counted.first?.error.kind ?? "integrity-failure") : "failure",
            message: "\(counted.count) of \(refreshed.count + failed.count) refresh(es) failed"
                + (damaged.isEmpty ? "" : ", \(damaged.count) damaged record(s) skipped")
        )
    }
}
