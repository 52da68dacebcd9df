import CredentialVault
import Hummingbird
import SendcloudOAuth
import SendcloudVaultService

/// The article's web login routes, in the context they need: a router, the vault service, the integration's client.
func webLoginRoutes(
    router: Router<BasicRequestContext>,
    vault: VaultService,
    clientID: String,
    clientSecret: SecureBytes
) {
    // snippet: embedding-web-login
    let login = WebLogin(provider: vault.provider)
    router.get("/connect/{name}") { _, context in
        let tenant = try AccountName(context.parameters.require("name"))
        // A new random binding, in a cookie only this browser holds: the login completes only with it.
        let binding = WebLogin.makeBinding()
        let start = try await login.start(
            WebLoginRequest(
                account: tenant,
                clientID: clientID,
                clientSecret: clientSecret,
                redirectURI: "https://backend.example.com/oauth/callback"
            ),
            binding: SecureBytes(utf8: binding)
        )
        var response = Response(status: .found, headers: [.location: start.authorizeURL])
        response.setCookie(
            Cookie(
                name: "__Host-login",
                value: binding,
                maxAge: 600,
                path: "/",
                secure: true,
                httpOnly: true,
                sameSite: .lax
            )
        )
        return response
    }
    router.get("/oauth/callback") { request, _ in
        guard let binding = request.cookies["__Host-login"]?.value else {
            throw HTTPError(.badRequest, message: "start the login again in this browser")
        }
        // Any instance: the state is sealed by the vault, bound to the cookie and claimed once across all of them.
        let account = try await login.complete(query: request.uri.query ?? "", binding: SecureBytes(utf8: binding))
        return "\(account.name) is connected"
    }
    // end snippet
}
