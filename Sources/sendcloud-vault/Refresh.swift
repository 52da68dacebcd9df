import ArgumentParser
import CredentialVault
import Foundation
import SendcloudOAuth
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Refresh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Refresh the named accounts, or all that expire soon (--all).",
        discussion: """
            Named accounts get a new token now. --all refreshes the accounts whose token expires within --ahead \
            (default 5m) or that have none, and — keep-alive — refresh-token accounts not refreshed for --max-age \
            (default 7d), since the server lets an unused refresh token expire. reauth-required accounts, and \
            accounts backing off after failed refreshes (see show), are skipped by --all (named reauth-required \
            accounts: exit 80) unless --force, which also makes --all refresh every account. Progress goes to stderr on a terminal; a summary follows. \
            Exits 0 when all succeeded, else the failures' common exit code, or 1 if they differ.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Account names.")
    var names: [String] = []

    @Flag(name: .long, help: "Refresh every account that is due.")
    var all = false

    @Flag(name: .long, help: "Refresh regardless of expiry, and retry reauth-required accounts at the server.")
    var force = false

    @Option(name: .long, help: "With --all: accounts expiring within this window are due (90s, 5m, 1h).")
    var ahead = DurationArgument(.seconds(300))

    @Option(
        name: .long,
        help: "With --all: refresh-token accounts last refreshed longer ago are due (keep-alive; 0 = off)."
    )
    var maxAge = DurationArgument(.seconds(7 * 24 * 3600))

    @Option(name: .long, help: "Refreshes at the same time.")
    var concurrency = 4

    @Option(name: .long, help: "At most this many token requests per second (Sendcloud allows bursts of 15/s).")
    var rate: Double?

    @Option(name: .long, help: "Random delay before each refresh, up to this long (spreads renewals).")
    var jitter = DurationArgument(.zero)

    func validate() throws {
        guard all != !names.isEmpty else { throw ValidationError("name accounts or give --all (not both)") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
    }

    func run() async throws {
        let accountNames = try names.map { try AccountName($0) }
        let vault = try await global.openVault()
        var configuration = TokenRefresher.Configuration()
        configuration.ahead = ahead.duration
        configuration.concurrency = concurrency
        configuration.jitter = jitter.duration
        configuration.maxRequestsPerSecond = rate
        configuration.maxRefreshTokenAge = maxAge.duration == .zero ? nil : maxAge.duration
        // Progress on stderr, as each account finishes, when stderr is a terminal.
        let showProgress = isatty(STDERR_FILENO) == 1 && !global.json
        let progress: @Sendable (TokenRefresher.Outcome, Int, Int) -> Void = { outcome, finished, total in
            let state: String
            switch outcome.result {
            case .success: state = "ok"
            case .failure(let error): state = ExitStatus.cliError(for: error).kind
            }
            Output.stderr("[\(finished)/\(total)] \(outcome.account): \(state)")
        }
        // With --all, a record that cannot even be decoded is skipped by the refresher; it is reported here.
        let skipped = DamagedRecords()
        let outcomes = try await OAuthSession.with(vault, global) { provider in
            let refresher = TokenRefresher(provider: provider, configuration: configuration, logger: global.logger)
            return try await refresher.refreshDue(
                force: force,
                names: all ? nil : accountNames,
                progress: showProgress ? progress : nil,
                damaged: { error in skipped.errors.withLock { $0.append(error) } }
            )
        }
        let damaged = skipped.errors.withLock { $0 }
        var failures: [(AccountName, CLIError)] = []
        var refreshed: [[String: Any]] = []
        for outcome in outcomes {
            switch outcome.result {
            case .success(let token):
                refreshed.append(["name": outcome.account.rawValue, "expires_at": Output.iso8601(token.expiresAt)])
            case .failure(let error):
                failures.append((outcome.account, ExitStatus.cliError(for: error)))
            }
        }
        if global.json {
            Output.printJSON(
                [
                    "refreshed": refreshed,
                    "failed": failures.map { name, error in
                        [
                            "name": name.rawValue, "code": Int(error.exitCode), "kind": error.kind,
                            "message": error.message,
                        ]
                    },
                    "damaged": damaged.map(\.message),
                ] as [String: Any]
            )
        } else {
            for (name, error) in failures { Output.stderr("\(name): \(Output.inert(error.message))") }
            for error in damaged { Output.stderr("damaged record skipped: \(Output.inert(error.message))") }
            print(
                "Refreshed \(refreshed.count) account(s); \(failures.count) failed"
                    + (damaged.isEmpty ? "." : "; \(damaged.count) damaged record(s) skipped (see verify).")
            )
        }
        guard !failures.isEmpty || !damaged.isEmpty else { return }
        let codes = Set(failures.map(\.1.exitCode) + (damaged.isEmpty ? [] : [ExitStatus.integrity]))
        let code = codes.count == 1 ? codes.first! : ExitStatus.failure
        throw CLIError(
            exitCode: code,
            kind: codes.count == 1 ? (failures.first?.1.kind ?? "integrity-failure") : "failure",
            message: "\(failures.count) of \(outcomes.count) refresh(es) failed"
                + (damaged.isEmpty ? "" : ", \(damaged.count) damaged record(s) skipped")
        )
    }
}

/// The records `refresh --all` skipped because they cannot be decoded.
final class DamagedRecords: Sendable {
    let errors = Mutex<[VaultError]>([])
}
