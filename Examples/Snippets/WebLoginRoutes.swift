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
        let start = try await login.start(
            WebLoginRequest(
                account: tenant,
                clientID: clientID,
                clientSecret: clientSecret,
                redirectURI: "https://backend.example.com/oauth/callback"
            )
        )
        return Response(status: .found, headers: [.location: start.authorizeURL])
    }
    router.get("/oauth/callback") { request, _ in
        // Any instance: the state is sealed by the vault and claimed once across all of them.
        let account = try await login.complete(query: request.uri.query ?? "")
        return "\(account.name) is connected"
    }
    // end snippet
}
