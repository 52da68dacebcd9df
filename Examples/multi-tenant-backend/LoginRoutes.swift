import CredentialVault
import Foundation
import Hummingbird
import Logging
import SendcloudOAuth
import SendcloudVaultService

/// The web login (authorization code + PKCE through `WebLogin`): `GET /connect/{name}` sends the browser to
/// Sendcloud's authorize page; `GET /oauth/callback` exchanges the code and stores the tenant. Nothing is kept in
/// memory in between: the state is sealed by the vault, so the callback may land on any instance that shares it.
///
/// The login is bound to the browser that started it: `/connect` sets a cookie holding a new random binding
/// (`WebLogin.makeBinding()`), and the callback completes only with that cookie — so nobody can have someone else's
/// browser complete a login into a tenant (login CSRF). One login at a time per browser: a second `/connect` replaces
/// the binding of the first.
struct LoginRoutes: Sendable {
    let vault: VaultService
    let settings: BackendSettings
    /// The integration's client secret, for tenants that are not in the vault yet.
    let clientSecret: SecureBytes?
    let address: ListeningAddress

    /// The cookie that binds a login to the browser that started it (its value is a random binding); over https it
    /// is `__Host-` prefixed (see ``bindingCookie(secure:)``).
    static let cookieName = "sendcloud_login"
    static let callbackPath = "/oauth/callback"

    /// The binding cookie's name and path. Over https, `__Host-sendcloud_login` for `/`: the browser then accepts it
    /// only `Secure`, from this very host, so a sibling subdomain cannot plant one. Over http to loopback (local
    /// development, where `Secure` cookies are not kept) `sendcloud_login`, sent to the callback only.
    static func bindingCookie(secure: Bool) -> (name: String, path: String) {
        secure ? ("__Host-" + cookieName, "/") : (cookieName, callbackPath)
    }

    /// Whether browsers reach the backend over https.
    private var isSecure: Bool { (settings.publicURL ?? address.value)?.hasPrefix("https:") == true }

    private var login: WebLogin {
        var configuration = WebLogin.Configuration()
        configuration.authorizeURL = settings.authorizeURL
        return WebLogin(provider: vault.provider, configuration: configuration)
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/connect/{name}") { _, context in
            try await connect(try TenantName.parse(context.parameters.get("name")), logger: context.logger)
        }
        router.get(RouterPath(Self.callbackPath)) { request, context in
            try await callback(request, logger: context.logger)
        }
    }

    /// 302 to the authorize URL. A tenant in the vault is re-authorized with its own client and stored secret; a new
    /// one gets the integration's client (`SENDCLOUD_CLIENT_ID`, `SENDCLOUD_CLIENT_SECRET_FILE`).
    func connect(_ tenant: AccountName, logger: Logger) async throws -> Response {
        guard let base = settings.publicURL ?? address.value else {
            throw BackendError(.serviceUnavailable, "the server is starting")
        }
        let redirectURI = base + Self.callbackPath
        let request: WebLoginRequest
        do {
            let existing = try await vault.vault.account(named: tenant)
            // Only a tenant that must authorize again is re-authorized: anyone may open /connect in this example, and
            // a connected tenant must not be re-pointed at whichever Sendcloud account completes the login. A real
            // backend also authenticates who may connect which tenant (its own session), and takes the tenant from
            // that session rather than from the URL.
            guard existing.status == .reauthRequired, existing.mode == .refreshToken else {
                throw BackendError(.conflict, "tenant '\(tenant)' is connected already")
            }
            request = .reauthorization(of: existing, redirectURI: redirectURI)
        } catch let error as VaultError where error.code == .notFound {
            guard let clientID = settings.clientID, let clientSecret else {
                throw BackendError(
                    .serviceUnavailable,
                    "web login of new tenants needs SENDCLOUD_CLIENT_ID and SENDCLOUD_CLIENT_SECRET_FILE"
                )
            }
            request = WebLoginRequest(
                account: tenant,
                clientID: clientID,
                clientSecret: clientSecret,
                redirectURI: redirectURI,
                tokenURL: settings.tokenURL
            )
        } catch let error as BackendError {
            throw error
        } catch {
            throw BackendError(error, tenant: tenant, logger: logger)
        }
        let binding = WebLogin.makeBinding()
        let start: WebLoginStart
        do {
            start = try await login.start(request, binding: SecureBytes(utf8: binding))
        } catch let error as OAuthError {
            throw BackendError(.badRequest, "cannot start the login: \(error.message)")
        } catch {
            throw BackendError(error, tenant: tenant, logger: logger)
        }
        let secure = base.hasPrefix("https:")
        let cookie = Self.bindingCookie(secure: secure)
        var response = Response(status: .found, headers: [.location: start.authorizeURL])
        // HttpOnly: no script reads it; SameSite=Lax: sent on the authorization server's top-level redirect back.
        response.setCookie(
            Cookie(
                name: cookie.name,
                value: binding,
                maxAge: Int(start.expiresAt.timeIntervalSinceNow.rounded(.up)),
                path: cookie.path,
                secure: secure,
                httpOnly: true,
                sameSite: .lax
            )
        )
        return response
    }

    /// Completes the login with the binding this browser's cookie holds: `WebLogin` opens the state, refuses it if
    /// it was started with another binding (without using it up), claims it once across every instance, exchanges
    /// the code and stores the tenant.
    func callback(_ request: Request, logger: Logger) async throws -> Response {
        let cookie = Self.bindingCookie(secure: isSecure)
        guard let binding = request.cookies[cookie.name]?.value, !binding.isEmpty else {
            throw BackendError(.badRequest, "this login was not started in this browser; start it again at /connect")
        }
        let account: Account
        do {
            account = try await login.complete(query: request.uri.query ?? "", binding: SecureBytes(utf8: binding))
        } catch let error as OAuthError {
            throw BackendError(.badRequest, error.message)
        } catch let error as VaultError where error.code == .alreadyExists {
            throw BackendError(.conflict, error.message)
        } catch {
            // VaultError's description holds no secret; other errors are named by type only.
            let detail = (error as? VaultError)?.description ?? "\(type(of: error))"
            logger.warning("web login failed", metadata: ["error": "\(detail)"])
            throw BackendError(.internalServerError, "the login could not be stored")
        }
        logger.info("tenant connected", metadata: ["account": "\(account.name)"])
        var response = Response(
            status: .ok,
            headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(
                byteBuffer: ByteBuffer(
                    string: """
                        <!doctype html><title>Connected</title>
                        <p>Tenant <b>\(account.name)</b> is connected to Sendcloud.</p>
                        <p><a href="/tenants/\(account.name)/user">/tenants/\(account.name)/user</a></p>

                        """
                )
            )
        )
        response.setCookie(
            Cookie(name: cookie.name, value: "", maxAge: 0, path: cookie.path, secure: isSecure, httpOnly: true)
        )
        return response
    }
}
