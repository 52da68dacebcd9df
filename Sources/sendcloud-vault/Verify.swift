import ArgumentParser
import CredentialVault

struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open every record and check permissions and integrity; report each problem.",
        discussion:
            "Exits 0 when all is sound, 65 when a record or the file fails its check, 78 for unsafe permissions."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let vault = try await global.openVault()
        let problems = try await vault.verify()
        // Counted from the raw records: a row that cannot be decoded is one of the problems, not a reason to stop.
        let accounts = try await vault.store.accountRecords().count
        if global.json {
            Output.printJSON(
                [
                    "ok": problems.isEmpty, "accounts": accounts, "problems": problems.map(\.description),
                ] as [String: Any]
            )
        } else {
            for problem in problems { print("problem: \(Output.inert(problem.description))") }
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
