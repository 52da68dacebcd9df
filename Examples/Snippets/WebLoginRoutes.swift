// The article's web login routes (Sources/Backend/Connect.swift there), compiled.
// snippet: embedding-web-login
import Configuration
import CredentialVault
import Hummingbird
import SendcloudOAuth
import SendcloudVaultService

/// `GET /connect/{name}` and `GET /oauth/callback`: web login of a new tenant, or re-authorization of one marked
/// `reauth-required`. Settings: the integration's OAuth client (`SENDCLOUD_CLIENT_ID`, `SENDCLOUD_CLIENT_SECRET_FILE`,
/// a 0600 file), where browsers reach this backend (`PUBLIC_URL`), and Sendcloud's endpoints
/// (`SENDCLOUD_AUTHORIZE_URL`, `SENDCLOUD_TOKEN_URL`: the development endpoint's when run locally).
func addWebLogin(to router: Router<BasicRequestContext>, vault: VaultService, config: ConfigReader) throws {
    let clientID = try config.requiredString(forKey: "sendcloud.client_id")
    let clientSecret = try VaultUnlockSource.readSecretFile(
        try config.requiredString(forKey: "sendcloud.client_secret_file"),
        what: "client secret",
        requirePrivate: true
    )
    let publicURL = config.string(forKey: "public_url", default: "http://127.0.0.1:8080")
    let tokenURL = config.string(forKey: "sendcloud.token_url", default: TokenURLPolicy.sendcloudTokenURL)
    var settings = WebLogin.Configuration()
    settings.authorizeURL = config.string(
        forKey: "sendcloud.authorize_url",
        default: TokenURLPolicy.sendcloudAuthorizeURL
    )
    let login = WebLogin(provider: vault.provider, configuration: settings)
    let redirectURI = publicURL + "/oauth/callback"
    // Browsers keep a Secure cookie only over https; over http (local development) it is a plain one.
    let secure = publicURL.hasPrefix("https:")
    let cookieName = secure ? "__Host-login" : "login"

    router.get("/connect/{name}") { _, context in
        let tenant = try AccountName(context.parameters.require("name"))
        let request: WebLoginRequest
        do {
            let existing = try await vault.vault.account(named: tenant)
            // A connected tenant is not re-pointed at whichever Sendcloud account completes the login.
            guard existing.status == .reauthRequired else {
                throw HTTPError(.conflict, message: "tenant '\(tenant)' is connected already")
            }
            request = .reauthorization(of: existing, redirectURI: redirectURI)
        } catch let error as VaultError where error.code == .notFound {
            request = WebLoginRequest(
                account: tenant,
                clientID: clientID,
                clientSecret: clientSecret,
                redirectURI: redirectURI,
                tokenURL: tokenURL
            )
        }
        // A new random binding, in a cookie only this browser holds: the login completes only with it.
        let binding = WebLogin.makeBinding()
        let start = try await login.start(request, binding: SecureBytes(utf8: binding))
        var response = Response(status: .found, headers: [.location: start.authorizeURL])
        response.setCookie(
            Cookie(
                name: cookieName,
                value: binding,
                maxAge: 600,
                path: "/",
                secure: secure,
                httpOnly: true,
                sameSite: .lax
            )
        )
        return response
    }
    router.get("/oauth/callback") { request, _ in
        guard let binding = request.cookies[cookieName]?.value else {
            throw HTTPError(.badRequest, message: "start the login again in this browser")
        }
        // Any instance: the state is sealed by the vault, bound to the cookie and claimed once across all of them.
        let account = try await login.complete(query: request.uri.query ?? "", binding: SecureBytes(utf8: binding))
        return "\(account.name) is connected"
    }
}
// end snippet
