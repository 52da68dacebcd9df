public import ArgumentParser
public import CredentialVault
import Foundation
import SendcloudOAuth

struct Add: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add an account (tenant) with its sealed secrets.",
        discussion: """
            The client secret (Sendcloud secret key) comes from --client-secret-file (a path, '-' for stdin), \
            SENDCLOUD_CLIENT_SECRET, or a no-echo prompt on a terminal. A refresh token comes from \
            --refresh-token-file or SENDCLOUD_REFRESH_TOKEN and is stored without contacting the server; the \
            first 'token' refreshes it. There is no flag that takes a secret as its value.

            The mode defaults to refresh-token when a refresh token or --code is given, else client-credentials. \
            The token URL is --token-url, else SENDCLOUD_TOKEN_URL, else Sendcloud's; it must be https (plain \
            http only for loopback hosts).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Account name: 1-128 of A-Z a-z 0-9 . _ - @, starting with a letter or digit.")
    var name: String

    @OptionGroup var client: ClientOptions

    @Option(name: .long, help: "client-credentials, refresh-token or basic.")
    var mode: AccountMode?

    @Option(name: .long, help: ArgumentHelp("Read a refresh token from this file ('-' for stdin).", valueName: "path"))
    var refreshTokenFile: String?

    @Option(
        name: .long,
        help:
            "An authorization code to exchange at once (with --redirect-uri). Single-use and short-lived, so it may be given as a value."
    )
    var code: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Read the PKCE code verifier used for --code from this file.", valueName: "path")
    )
    var codeVerifierFile: String?

    @Option(name: .long, help: "The redirect URI the authorization code was issued for.")
    var redirectURI: String?

    @Option(name: .long, help: "OAuth scopes, space-separated (client-credentials default: api).")
    var scope: String?

    func validate() throws {
        if code != nil && refreshTokenFile != nil {
            throw ValidationError("--code and --refresh-token-file exclude each other")
        }
        if (code == nil) != (redirectURI == nil) {
            throw ValidationError("--code and --redirect-uri go together")
        }
    }

    func run() async throws {
        let accountName = try AccountName(name)
        let input = SecretInput()
        try global.requireAtMostOneStdin([client.clientSecretFile, refreshTokenFile, codeVerifierFile])
        var refreshToken: SecureBytes?
        if let refreshTokenFile {
            refreshToken = try input.file(
                refreshTokenFile,
                what: "refresh token",
                requirePrivate: refreshTokenFile != "-"
            )
        } else if code == nil {
            refreshToken = SecretInput.environment("SENDCLOUD_REFRESH_TOKEN")
        }
        let mode = self.mode ?? (refreshToken != nil || code != nil ? .refreshToken : .clientCredentials)
        switch mode {
        case .refreshToken where refreshToken == nil && code == nil:
            throw CLIError.usage("refresh-token mode needs --refresh-token-file, SENDCLOUD_REFRESH_TOKEN or --code")
        case .clientCredentials, .basic:
            if refreshToken != nil || code != nil {
                throw CLIError.usage(
                    "a refresh token or authorization code belongs to refresh-token mode, not \(mode.rawValue)"
                )
            }
        default:
            break
        }
        let tokenURL = try client.chosenTokenURL()
        // Unlock first: a prompt for the vault passphrase comes before the prompt for the new secret.
        let vault = try await global.openVault(input)
        let clientSecret = try client.clientSecret(input)
        let verifier = try codeVerifierFile.map { try input.file($0, what: "code verifier", requirePrivate: $0 != "-") }
        let new = Account(
            name: accountName,
            mode: mode,
            clientID: try client.requiredClientID(),
            scopes: scope,
            tokenURL: tokenURL
        )
        let account: Account
        if let code, let redirectURI {
            account = try await OAuthSession.with(vault, global) { provider in
                try await provider.authorize(
                    new,
                    clientSecret: clientSecret,
                    code: SecureBytes(utf8: code),
                    redirectURI: redirectURI,
                    codeVerifier: verifier,
                    mayReplace: false
                )
            }
        } else {
            account = try await vault.addAccount(
                new,
                secrets: AccountSecrets(clientSecret: clientSecret, refreshToken: refreshToken)
            )
        }
        if global.json {
            Output.printJSON(Output.accountJSON(account))
        } else {
            print("Added account \(account.name) (\(account.mode.rawValue)).")
        }
    }
}

extension AccountMode: ExpressibleByArgument {}
