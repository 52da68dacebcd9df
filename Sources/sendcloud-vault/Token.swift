import ArgumentParser
import CredentialVault
import Foundation
import SendcloudOAuth

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a valid access token, obtaining or refreshing it if needed.",
        discussion: """
            Prints the token and a newline, nothing else. --header prints the whole header: \
            'Authorization: Bearer <token>', or 'Authorization: Basic <base64(public:secret)>' for basic accounts \
            (which have no token: without --header they exit 64). --json prints access_token, token_type, expires_at.

            A stored token is used while it stays valid for more than 60 s; otherwise one refresh is made — once \
            per account even when many processes ask at once. A reauth-required account exits 80 without \
            contacting the server (see 'refresh NAME --force' and 'login').
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Account name.", completion: .accountNames)
    var name: String

    @Flag(name: .long, help: "Print the whole 'Authorization:' header.")
    var header = false

    func run() async throws {
        let accountName = try AccountName(name)
        let vault = try await global.openVault()
        try await ExitStatus.reporting(account: accountName) { try await write(vault, accountName) }
    }

    private func write(_ vault: CredentialVault, _ accountName: AccountName) async throws {
        try await OAuthSession.with(vault, global) { provider in
            if header {
                let value = try await provider.authorizationHeaderValue(for: accountName)
                if global.json {
                    Output.printJSON(["authorization": value])
                } else {
                    print("Authorization: \(value)")
                }
                return
            }
            let token: AccessToken
            do {
                token = try await provider.accessToken(for: accountName)
            } catch let error as OAuthError where error.code == .notSupported {
                throw CLIError.usage("'\(accountName)' is a basic account and has no access token; use --header")
            }
            if global.json {
                Output.printJSON([
                    "access_token": token.value.unsafeStringValue() ?? "", "token_type": "bearer",
                    "expires_at": Output.iso8601(token.expiresAt),
                ])
            } else {
                print(token.value.unsafeStringValue() ?? "")
            }
        }
    }
}
