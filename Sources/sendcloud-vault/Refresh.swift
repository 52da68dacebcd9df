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
        commandName: "refresh",
        abstract: "Refresh the named accounts, or all that expire soon (--all).",
        discussion: """
            Named accounts get a new token now. --all refreshes the accounts whose token expires within --ahead \
            (default 5m) or that have none, and — keep-alive — refresh-token accounts not refreshed for --max-age \
            (default 7d), since the server lets an unused refresh token expire. --all skips reauth-required \
            accounts and accounts backing off after failed refreshes (see show) and lists them in its summary \
            ("skipped", with the next step); --force refreshes every account, reauth-required ones included.

            When the token endpoint is unreachable for 5 accounts in a row, the run stops: the rest are reported \
            as not attempted, and it exits 69.

            Progress goes to stderr on a terminal; one line per failure on stderr; a summary on stdout (none with \
            --quiet when everything succeeded). Exit status: 80 when any account needs re-authorization (failed \
            with invalid_grant, or skipped as reauth-required) unless --allow-reauth; else 0 when every refresh \
            succeeded, or the failures' common exit code, or 1 if they differ.
            """
    )

    /// Refreshes that fail as unreachable in a row before the run stops (DESIGN §6: "stops early (69)").
    static let unreachableLimit = 5

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Account names.", completion: .accountNames)
    var names: [String] = []

    @Flag(name: .long, help: "Refresh every account that is due.")
    var all = false

    @Flag(name: .long, help: "Refresh regardless of expiry, and retry reauth-required accounts at the server.")
    var force = false

    @Flag(name: .long, help: "Print nothing when every refresh succeeded (failures still print, one line each).")
    var quiet = false

    @Flag(name: .long, help: "Exit 0 even when accounts need re-authorization (they are still listed).")
    var allowReauth = false

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
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
    }

    func run() async throws {
        // Checked here, not in validate(): argument-parser validates before it reports unknown options, so a typo
        // such as `--al` would be reported as a missing --all.
        if all && !names.isEmpty { throw CLIError.usage("name accounts or give --all, not both") }
        if !all && names.isEmpty { throw CLIError.usage("name the accounts to refresh, or give --all") }
        let accountNames = try names.map { try AccountName($0) }
        let vault = try await global.openVault()
        var configuration = TokenRefresher.Configuration()
        configuration.ahead = ahead.duration
        configuration.concurrency = concurrency
        configuration.jitter = jitter.duration
        configuration.maxRequestsPerSecond = rate
        configuration.maxRefreshTokenAge = maxAge.duration == .zero ? nil : maxAge.duration
        configuration.stopAfterConsecutiveUnreachable = Self.unreachableLimit
        // Progress on stderr, as each account finishes, when stderr is a terminal.
        let showProgress = isatty(STDERR_FILENO) == 1 && !global.json && !quiet
        let progress: @Sendable (TokenRefresher.Outcome, Int, Int) -> Void = { outcome, finished, total in
            let state: String
            switch outcome.result {
            case .success: state = "ok"
            case .failure(let error): state = ExitStatus.cliError(for: error).kind
            }
            Output.stderr("[\(finished)/\(total)] \(outcome.account): \(state)")
        }
        // With --all, a record that cannot even be decoded is skipped by the refresher; it is reported here.
        let damagedRecords = DamagedRecords()
        let (outcomes, skipped) = try await OAuthSession.with(vault, global) { provider in
            let refresher = TokenRefresher(provider: provider, configuration: configuration, logger: global.logger)
            // What --all leaves out, listed before the pass (an account failing during it is one of its failures).
            let skipped = all && !force ? try await refresher.skippedAccounts() : []
            let outcomes = try await refresher.refreshDue(
                force: force,
                names: all ? nil : accountNames,
                progress: showProgress ? progress : nil,
                damaged: { error in damagedRecords.errors.withLock { $0.append(error) } }
            )
            return (outcomes, skipped)
        }
        let summary = RefreshSummary(
            outcomes: outcomes,
            skipped: skipped,
            damaged: damagedRecords.errors.withLock { $0 }
        )
        if global.json {
            Output.printJSON(summary.json)
        } else {
            summary.printText(quiet: quiet)
        }
        if let error = summary.failure(allowReauth: allowReauth) { throw error }
    }
}

/// The records `refresh --all` skipped because they cannot be decoded.
final class DamagedRecords: Sendable {
    let errors = Mutex<[VaultError]>([])
}
