import ArgumentParser
import CredentialVault

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Delete an account and its secrets.",
        discussion: """
            The refresh token is gone for good: the merchant must authorize again to get a new one. On a terminal, \
            remove asks you to type the account's name; --yes skips the question. Without a terminal (scripts, \
            cron) it needs --yes (else exit 64, nothing deleted).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Account name.", completion: .accountNames)
    var name: String

    @Flag(name: .long, help: "Delete without asking.")
    var yes = false

    func run() async throws {
        let accountName = try AccountName(name)
        let vault = try await global.openVault()
        let account = try await vault.account(named: accountName)
        if !yes {
            let what = account.storedFields.contains(.refreshToken) ? " and its refresh token (gone for good)" : ""
            guard SecretInput.isInteractive else {
                throw CLIError.usage("remove deletes '\(accountName)'\(what); without a terminal, rerun with --yes")
            }
            let answer = try SecretInput.ask("Delete account '\(accountName)'\(what)? Type its name to confirm: ")
            guard answer == accountName.rawValue else {
                throw CLIError(
                    exitCode: ExitStatus.failure,
                    kind: "cancelled",
                    message: "not confirmed; nothing deleted"
                )
            }
        }
        try await vault.removeAccount(named: accountName)
        if global.json {
            Output.printJSON(["removed": accountName.rawValue])
        } else {
            print("Removed account \(accountName).")
        }
    }
}
