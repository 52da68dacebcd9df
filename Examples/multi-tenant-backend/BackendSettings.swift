import Configuration
import CredentialVault
import SendcloudOAuth

/// The backend's settings, read through swift-configuration (with `EnvironmentVariablesProvider`, each key is an
/// environment variable: `http.port` is `HTTP_PORT`, `sendcloud.api_url` is `SENDCLOUD_API_URL`). The vault's
/// location and unlock secret are read by `VaultService.open(config:)` (`SENDCLOUD_VAULT`, `SENDCLOUD_VAULT_KEY_FILE`,
/// …).
struct BackendSettings: Sendable {
    /// The development endpoint's address in these examples: `swift run sendcloud-dev-endpoint --port 8090`.
    static let developmentEndpoint = "http://127.0.0.1:8090"

    /// `http.host` (`HTTP_HOST`): the address to listen on.
    var host: String
    /// `http.port` (`HTTP_PORT`): the port; 0 picks a free one (the URL printed names it).
    var port: Int
    /// `public_url` (`PUBLIC_URL`): the backend's URL as browsers reach it, for the OAuth redirect URI; default the
    /// address it listens on.
    var publicURL: String?
    /// `sendcloud.api_url` (`SENDCLOUD_API_URL`): the base of Sendcloud's API v3 (the development endpoint's
    /// stand-in by default; Sendcloud's is `https://panel.sendcloud.sc/api/v3`).
    var apiURL: String
    /// `sendcloud.authorize_url` (`SENDCLOUD_AUTHORIZE_URL`): the authorize endpoint of web logins.
    var authorizeURL: String
    /// `sendcloud.token_url` (`SENDCLOUD_TOKEN_URL`): the token endpoint of accounts created by a web login.
    var tokenURL: String
    /// `sendcloud.client_id` (`SENDCLOUD_CLIENT_ID`): the integration's OAuth client, for web logins of new tenants.
    var clientID: String?
    /// `sendcloud.client_secret_file` (`SENDCLOUD_CLIENT_SECRET_FILE`): the file holding its secret (mode 0600).
    var clientSecretFile: String?
    /// `log.level` (`LOG_LEVEL`, default `info`).
    var logLevel: String

    init(config: ConfigReader) {
        host = config.string(forKey: "http.host", default: "127.0.0.1")
        port = config.int(forKey: "http.port", default: 8080)
        publicURL = config.string(forKey: "public_url")
        apiURL = config.string(forKey: "sendcloud.api_url", default: Self.developmentEndpoint + "/api/v3")
        authorizeURL = config.string(
            forKey: "sendcloud.authorize_url",
            default: Self.developmentEndpoint + "/oauth2/auth"
        )
        tokenURL = config.string(forKey: "sendcloud.token_url", default: Self.developmentEndpoint + "/oauth2/token")
        clientID = config.string(forKey: "sendcloud.client_id")
        clientSecretFile = config.string(forKey: "sendcloud.client_secret_file")
        logLevel = config.string(forKey: "log.level", default: "info")
    }

    /// The integration's client secret, read from ``clientSecretFile`` with the vault's checks on secret files (a
    /// private regular file); `nil` without one.
    func clientSecret() throws -> SecureBytes? {
        guard let clientSecretFile else { return nil }
        return try VaultUnlockSource.readSecretFile(clientSecretFile, what: "client secret", requirePrivate: true)
    }
}
