import ArgumentParser
import CredentialVault
import SendcloudOAuth

struct Update: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Change an account in place: client id or secret, refresh token, token URL, scope.",
        discussion: """
            Only what you name changes. A new client secret comes from --client-secret-file (a path, '-' for \
            stdin, mode 0600), or with --new-client-secret from SENDCLOUD_CLIENT_SECRET or a no-echo prompt; a \
            refresh token likewise from --refresh-token-file or --new-refresh-token (SENDCLOUD_REFRESH_TOKEN, or a \
            prompt). A variable alone changes nothing: update never picks up a secret you did not ask for.

            One compare-and-swap write under the account's lock (a refresh in flight stores its token first). The \
            stored access token is dropped, so the next 'token' obtains one with the new settings; the backoff is \
            reset; a new refresh token also clears reauth-required. An insecure --token-url is refused (78); \
            --scope '' removes the scopes.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Account name.", completion: .accountNames)
    var name: String

    @Option(name: .long, help: "New OAuth client id (Sendcloud public key).")
    var clientID: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Read the new client secret from this file ('-' for stdin).", valueName: "path")
    )
    var clientSecretFile: String?

    @Flag(name: .long, help: "Change the client secret: from SENDCLOUD_CLIENT_SECRET, else a prompt on a terminal.")
    var newClientSecret = false

    @Option(
        name: .long,
        help: ArgumentHelp("Read the new refresh token from this file ('-' for stdin).", valueName: "path")
    )
    var refreshTokenFile: String?

    @Flag(name: .long, help: "Change the refresh token: from SENDCLOUD_REFRESH_TOKEN, else a prompt on a terminal.")
    var newRefreshToken = false

    @Option(name: .long, help: "New token endpoint URL; https, or http for loopback hosts only.")
    var tokenURL: String?

    @Option(name: .long, help: "New scopes, space-separated; '' removes them.")
    var scope: String?

    @Option(name: .long, help: "Wait this long for a refresh in flight (20, 90s, 5m).")
    var lockTimeout = DurationArgument(.seconds(60))

    func validate() throws {
        if clientSecretFile != nil && newClientSecret {
            throw ValidationError("--client-secret-file and --new-client-secret exclude each other")
        }
        if refreshTokenFile != nil && newRefreshToken {
            throw ValidationError("--refresh-token-file and --new-refresh-token exclude each other")
        }
    }

    func run() async throws {
        // Checked here, not in validate(): argument-parser validates before it reports unknown options.
        let named =
            [clientID != nil, clientSecretFile != nil, newClientSecret, refreshTokenFile != nil]
            + [newRefreshToken, tokenURL != nil, scope != nil]
        guard named.contains(true) else {
            throw CLIError.usage(
                "name what to change: --client-id, --client-secret-file, --new-client-secret, --refresh-token-file, "
                    + "--new-refresh-token, --token-url or --scope"
            )
        }
        let accountName = try AccountName(name)
        if let tokenURL { try TokenURLPolicy.validate(tokenURL) }
        let input = SecretInput()
        try global.requireAtMostOneStdin([clientSecretFile, refreshTokenFile])
        let vault = try await global.openVault(input)
        var change = AccountChange(clientID: clientID, tokenURL: tokenURL, scopes: scope)
        change.clientSecret = try secret(
            file: clientSecretFile,
            asked: newClientSecret,
            variable: "SENDCLOUD_CLIENT_SECRET",
            what: "client secret",
            input
        )
        change.refreshToken = try secret(
            file: refreshTokenFile,
            asked: newRefreshToken,
            variable: "SENDCLOUD_REFRESH_TOKEN",
            what: "refresh token",
            input
        )
        let account = try await vault.changeAccount(named: accountName, change, lockTimeout: lockTimeout.duration)
        if global.json {
            Output.printJSON(Output.accountJSON(account))
        } else {
            var changed: [String] = []
            if clientID != nil { changed.append("client id") }
            if change.clientSecret != nil { changed.append("client secret") }
            if change.refreshToken != nil { changed.append("refresh token") }
            if tokenURL != nil { changed.append("token URL") }
            if scope != nil { changed.append("scope") }
            print(
                "Updated account \(account.name): \(changed.joined(separator: ", ")); status \(account.status.rawValue)."
            )
        }
    }

    /// A new secret from `file`, or — when `asked` — from `variable` or a prompt; `nil` when neither is given.
    private func secret(
        file: String?,
        asked: Bool,
        variable: String,
        what: String,
        _ input: SecretInput
    ) throws -> SecureBytes? {
        if let file { return try input.file(file, what: what, requirePrivate: file != "-") }
        guard asked else { return nil }
        if let value = SecretInput.environment(variable) { return value }
        guard SecretInput.isInteractive else {
            throw CLIError.usage("the new \(what) is needed: use a file, or \(variable), without a terminal")
        }
        return try SecretInput.prompt("New \(what): ")
    }
}
