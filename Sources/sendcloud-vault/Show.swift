import ArgumentParser
import CredentialVault
import Foundation
import SendcloudOAuth

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show an account's metadata, status and expiry; secrets masked unless --reveal."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Account name.", completion: .accountNames)
    var name: String

    @Flag(name: .long, help: "Also print the client secret, refresh token and access token in clear.")
    var reveal = false

    func run() async throws {
        let accountName = try AccountName(name)
        let vault = try await global.openVault()
        let account: Account
        var secrets: AccountSecrets?
        if reveal {
            (account, secrets) = try await vault.openAccount(named: accountName)
        } else {
            account = try await vault.account(named: accountName)
        }
        if global.json {
            Output.printJSON(Output.accountJSON(account, secrets: secrets))
            return
        }
        func secret(_ field: SecretField) -> String {
            guard account.storedFields.contains(field) else { return "-" }
            guard let value = secrets?[field] else { return "******** (hidden; --reveal shows it)" }
            return value.unsafeStringValue() ?? "<not UTF-8>"
        }
        let expiry =
            account.accessTokenExpiresAt.map { "\($0.formatted(.iso8601)) (\(Output.expiry(account)))" } ?? "-"
        // The scope a token request actually sends, beside what is stored.
        let scopes: String
        switch account.mode {
        case .clientCredentials:
            scopes = account.scopes ?? "\(TokenProvider.Configuration().defaultClientCredentialsScope) (the default)"
        case .refreshToken:
            scopes =
                account.scopes.map { "\($0) (granted at authorization; refreshes keep it)" }
                ?? "- (refreshes keep the scope granted at authorization)"
        case .basic:
            scopes = "- (basic accounts request no token)"
        }
        var rows: [[String]] = [
            ["name:", account.name.rawValue],
            ["mode:", account.mode.rawValue],
            ["client_id:", account.clientID],
            ["scopes:", scopes],
            ["token_url:", account.tokenURL],
            ["status:", Output.health(account).rawValue],
            ["last_error:", account.lastError ?? "-"],
            ["access_token_expires_at:", expiry],
            ["refreshed_at:", account.refreshedAt.map { $0.formatted(.iso8601) } ?? "-"],
        ]
        // The refresher's backoff, shown only while there is one.
        if let next = account.nextAttemptAt {
            rows.append(["next_attempt_at:", "\(next.formatted(.iso8601)) (\(Output.relative(next)))"])
        }
        if account.consecutiveFailures > 0 {
            rows.append(["consecutive_failures:", String(account.consecutiveFailures)])
        }
        rows += [
            ["generation:", String(account.generation)],
            ["client_secret:", secret(.clientSecret)],
            ["refresh_token:", secret(.refreshToken)],
            ["access_token:", secret(.accessToken)],
        ]
        print(Output.table(rows))
    }
}
