import ArgumentParser
import CredentialVault

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete an account and its secrets.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Account name.")
    var name: String

    func run() async throws {
        let accountName = try AccountName(name)
        let vault = try await global.openVault()
        try await vault.removeAccount(named: accountName)
        if global.json {
            Output.printJSON(["removed": accountName.rawValue])
        } else {
            print("Removed account \(accountName).")
        }
    }
}
