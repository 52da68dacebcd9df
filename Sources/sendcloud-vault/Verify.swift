import ArgumentParser
import CredentialVault
import Foundation

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Open every record and check permissions and integrity; report each problem.",
        discussion: """
            Exits 0 when all is sound, 65 when a record or the file fails its check, 78 for unsafe permissions.

            --upgrade upgrades a vault written by an earlier version (format 1, whose token URLs, client ids, modes \
            and scopes are not authenticated): it prints each record's metadata as it authenticates it, then \
            verifies. Check what it prints: someone who could write the file could have changed a token URL. Until \
            the upgrade, such records are not used.

            verify warns (without failing) when the vault is opened somewhere other than where it was created: a \
            copy. Two live copies must never both refresh (each would spend the same refresh tokens, and Sendcloud \
            revokes the tenant's authorization). After moving a vault on purpose, --record-location records where \
            it is now.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Authenticate the metadata of format-1 records (printing it), then verify.")
    var upgrade = false

    @Flag(name: .long, help: "Record where the vault is now as its location (after moving it), then verify.")
    var recordLocation = false

    func run() async throws {
        let vault = try await global.openVault()
        var upgraded: [Account] = []
        if upgrade {
            upgraded = try await vault.upgradeFormat()
            if !global.json {
                for account in upgraded {
                    print(
                        "upgraded \(account.name): mode \(account.mode.rawValue), client id "
                            + "\(Output.inert(account.clientID)), token URL \(Output.inert(account.tokenURL)), scopes "
                            + Output.inert(account.scopes ?? "-")
                    )
                }
            }
        }
        if recordLocation {
            let here = try await vault.recordLocation()
            if !global.json { print("recorded the vault's location: \(Output.inert(here))") }
        }
        let report = try await vault.verify()
        // Counted from the raw rows: a row that cannot be decoded is one of the problems, not a reason to stop.
        let (problems, accounts) = (report.problems, report.accountCount)
        if global.json {
            Output.printJSON(
                [
                    "ok": problems.isEmpty, "accounts": accounts, "problems": problems.map(\.description),
                    "upgraded": upgraded.map { Output.accountJSON($0) }, "warnings": report.warnings,
                ] as [String: Any]
            )
        } else {
            for problem in problems { print("problem: \(Output.inert(problem.description))") }
            for warning in report.warnings { print("warning: \(Output.inert(warning))") }
            print(
                problems.isEmpty
                    ? "OK: \(accounts) account(s), every record opens; permissions are safe."
                    : "\(problems.count) problem(s) in \(accounts) account(s)."
            )
        }
        if !problems.isEmpty {
            let permissions = problems.contains { $0.code == .unsafePermissions }
            throw CLIError(
                exitCode: permissions ? ExitStatus.configuration : ExitStatus.integrity,
                kind: permissions ? "unsafe-permissions" : "integrity-failure",
                message: "\(problems.count) problem(s) found"
            )
        }
    }
}
