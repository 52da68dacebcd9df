import AsyncHTTPClient
import CredentialVault
import Foundation
import NIOCore
import NIOHTTP1
import SendcloudTesting
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The built `multi-tenant-backend` against an in-process fake Sendcloud and a real SQLite vault: every test ends
/// with SIGTERM, expects exit 0, and checks that no secret reached the server's output.
@Suite("multi-tenant-backend, end to end")
struct MultiTenantBackendTests {
    static let clientID = "integration"
    static let clientSecret = "integration-secret-7d2f9a"

    /// A running backend with tenants `acme` and `bolt` (refresh-token accounts the fake authorized, in that order).
    struct Fixture {
        var sendcloud: FakeSendcloud
        var vault: ExampleVault
        var process: BinaryProcess
        var url: String
        var http: HTTPClient
        var refreshTokens: [AccountName: String]

        /// GETs `path` (or an absolute URL) without following redirects.
        func get(_ path: String, headers: [String: String] = [:]) async throws -> Answer {
            var request = HTTPClientRequest(url: path.hasPrefix("http") ? path : url + path)
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            let response = try await http.execute(request, timeout: .seconds(60))
            let body = try await response.body.collect(upTo: 1 << 20)
            return Answer(
                status: Int(response.status.code),
                headers: Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }) { first, _ in first },
                body: String(buffer: body)
            )
        }
    }

    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: String

        /// The body as a JSON object.
        var json: [String: Any]? {
            try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        }

        /// `data` of the API stand-in's answer.
        var data: [String: Any]? { json?["data"] as? [String: Any] }
    }

    func withBackend(_ body: (Fixture) async throws -> Void) async throws {
        let vault = try await ExampleVault.make()
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { sendcloud in
            var refreshTokens: [AccountName: String] = [:]
            for tenant: AccountName in ["acme", "bolt"] {
                let refreshToken = sendcloud.issueRefreshToken(clientID: Self.clientID)
                refreshTokens[tenant] = refreshToken
                try await vault.vault.addAccount(
                    Account(name: tenant, mode: .refreshToken, clientID: Self.clientID, tokenURL: sendcloud.tokenURL),
                    secrets: AccountSecrets(
                        clientSecret: SecureBytes(utf8: Self.clientSecret),
                        refreshToken: SecureBytes(utf8: refreshToken)
                    )
                )
            }
            let secretFile = vault.directory.file("client-secret")
            try ExampleVault.writePrivateFile(secretFile, Array(Self.clientSecret.utf8))
            let environment = vault.environment.merging([
                "HTTP_PORT": "0",
                "SENDCLOUD_API_URL": sendcloud.apiBaseURL,
                "SENDCLOUD_AUTHORIZE_URL": sendcloud.authorizeURL,
                "SENDCLOUD_TOKEN_URL": sendcloud.tokenURL,
                "SENDCLOUD_CLIENT_ID": Self.clientID,
                "SENDCLOUD_CLIENT_SECRET_FILE": secretFile,
                "LOG_LEVEL": "debug",
                // The 401 test revokes a token seconds after it was issued, which the default 30 s floor would
                // answer without a refresh (an API refusing fresh tokens must not cost a refresh per request).
                "SENDCLOUD_VAULT_PROVIDER_REFUSED_TOKEN_MINIMUM_AGE_SECONDS": "0",
            ]) { $1 }
            let process = try BinaryProcess("multi-tenant-backend", environment: environment, in: vault.directory)
            let url = try await process.waitForLine { line in
                line.hasPrefix("listening on ") ? String(line.dropFirst("listening on ".count)) : nil
            }
            try await withHTTPClient { http in
                try await body(
                    Fixture(
                        sendcloud: sendcloud,
                        vault: vault,
                        process: process,
                        url: url,
                        http: http,
                        refreshTokens: refreshTokens
                    )
                )
            }
            process.send(SIGTERM)
            let exit = try await process.exit()
            #expect(exit.status == 0 && !exit.signalled, "\(process.transcript)")

            // No secret in the output: the client secret, the refresh tokens issued, every token stored now.
            var secrets = [Self.clientSecret] + refreshTokens.values
            for account in try await vault.vault.accounts() {
                let (_, stored) = try await vault.vault.openAccount(named: account.name)
                secrets += [stored.refreshToken, stored.accessToken].compactMap { $0?.unsafeStringValue() }
            }
            for secret in secrets {
                #expect(!process.output.contains(secret), "a secret reached the backend's output")
            }
        }
    }

    @Test("GET /tenants/{name}/user answers with the API's JSON for each tenant; an unknown tenant is 404")
    func servesEachTenant() async throws {
        try await withBackend { backend in
            let acme = try await backend.get("/tenants/acme/user")
            #expect(acme.status == 200, "\(acme.body)")
            #expect(acme.headers["content-type"]?.hasPrefix("application/json") == true)
            #expect(acme.data?["auth_method"] as? String == "oauth2")
            #expect(acme.data?["client_id"] as? String == Self.clientID)
            // The fake numbers users 1000 + the authorization: acme's was the first, bolt's the second.
            #expect(acme.data?["user_id"] as? Int == 1001)

            let bolt = try await backend.get("/tenants/bolt/user")
            #expect(bolt.status == 200, "\(bolt.body)")
            #expect(bolt.data?["user_id"] as? Int == 1002)

            let unknown = try await backend.get("/tenants/nobody/user")
            #expect(unknown.status == 404)
            #expect((unknown.json?["error"] as? [String: Any])?["message"] as? String == "no tenant named 'nobody'")
            let invalid = try await backend.get("/tenants/-not-a-name/user")
            #expect(invalid.status == 404)
        }
    }

    @Test("a 401 from the API refreshes the tenant's token once, and the request still answers 200")
    func refreshesOnceAfterA401() async throws {
        try await withBackend { backend in
            let first = try await backend.get("/tenants/acme/user")
            #expect(first.status == 200, "\(first.body)")
            // Revoke the token the backend holds (the one it stored) while it still looks valid.
            let token = try #require(try await backend.vault.text(of: .accessToken, of: "acme"))
            #expect(backend.sendcloud.revokeAccessToken(token))
            let chain = try #require(backend.refreshTokens["acme"])
            let grantsBefore = try #require(backend.sendcloud.accessTokenExpiries(ofChainWith: chain)).count
            let refusedBefore = backend.sendcloud.stats.apiUnauthorized

            let second = try await backend.get("/tenants/acme/user")
            #expect(second.status == 200, "\(second.body)")
            #expect(second.data?["user_id"] as? Int == 1001)
            #expect(backend.sendcloud.stats.apiUnauthorized == refusedBefore + 1)
            #expect(try #require(backend.sendcloud.accessTokenExpiries(ofChainWith: chain)).count == grantsBefore + 1)
            #expect(try await backend.vault.text(of: .accessToken, of: "acme") != token)
        }
    }

    @Test("a tenant whose refresh token is refused answers 409 with a link to /connect")
    func reauthorizationRequiredIs409() async throws {
        try await withBackend { backend in
            try await backend.vault.vault.addAccount(
                Account(
                    name: "gone",
                    mode: .refreshToken,
                    clientID: Self.clientID,
                    tokenURL: backend.sendcloud.tokenURL
                ),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: Self.clientSecret),
                    refreshToken: SecureBytes(utf8: "a-refresh-token-the-server-never-issued")
                )
            )
            let answer = try await backend.get("/tenants/gone/user")
            #expect(answer.status == 409, "\(answer.body)")
            let error = answer.json?["error"] as? [String: Any]
            #expect(error?["connect"] as? String == "/connect/gone")
            #expect(try await backend.vault.vault.account(named: "gone").status == .reauthRequired)
        }
    }

    @Test("/metrics exposes the vault's metrics in Prometheus' text format")
    func exposesMetrics() async throws {
        try await withBackend { backend in
            #expect(try await backend.get("/tenants/acme/user").status == 200)
            let metrics = try await backend.get("/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.headers["content-type"]?.hasPrefix("text/plain") == true)
            #expect(metrics.body.contains("# TYPE sendcloud_vault_token_requests_total counter"))
            #expect(
                metrics.body.contains(#"sendcloud_vault_token_requests_total{grant="refresh_token",outcome="success"}"#)
            )
            #expect(metrics.body.contains("sendcloud_vault_refresh_duration_seconds_bucket"))
            #expect(metrics.body.contains("sendcloud_vault_access_token_lookups_total"))
        }
    }

    @Test("web login: /connect → authorize → /oauth/callback stores the tenant, which the API then serves")
    func webLoginStoresTheTenant() async throws {
        try await withBackend { backend in
            let connect = try await backend.get("/connect/carol")
            #expect(connect.status == 302, "\(connect.body)")
            let authorize = try #require(connect.headers["location"])
            #expect(authorize.hasPrefix(backend.sendcloud.authorizeURL + "?"))
            let setCookie = try #require(connect.headers["set-cookie"])
            let cookie = try #require(setCookie.split(separator: ";").first.map(String.init))
            #expect(cookie.hasPrefix("sendcloud_login="))
            let attributes = setCookie.lowercased()
            #expect(attributes.contains("httponly") && attributes.contains("samesite=lax"))
            #expect(attributes.contains("path=/oauth/callback"))
            // The cookie holds a random binding (43 characters of base64url), not the state the URL carries.
            let binding = String(cookie.dropFirst("sendcloud_login=".count))
            #expect(binding.utf8.count == 43)
            #expect(!authorize.contains(binding))

            // The fake approves at once and sends the browser back to the backend's callback.
            let callback = try await AuthorizeAnswer.redirectLocation(authorize, http: backend.http)
            #expect(callback.hasPrefix(backend.url + "/oauth/callback?"))

            // Without the browser's cookie, or with another browser's, the callback is refused, and the state stays
            // unused.
            let cookieless = try await backend.get(callback)
            #expect(cookieless.status == 400)
            let foreign = try await backend.get(
                callback,
                headers: ["Cookie": "sendcloud_login=" + String(repeating: "A", count: 43)]
            )
            #expect(foreign.status == 400, "\(foreign.body)")
            #expect(foreign.body.contains("another browser session"))
            #expect(backend.sendcloud.stats.authorizationCodeGrants == 0)
            await #expect(throws: VaultError.self) { try await backend.vault.vault.account(named: "carol") }

            let done = try await backend.get(callback, headers: ["Cookie": cookie])
            #expect(done.status == 200, "\(done.body)")
            #expect(done.body.contains("carol"))
            let account = try await backend.vault.vault.account(named: "carol")
            #expect(account.mode == .refreshToken)
            #expect(account.clientID == Self.clientID)
            #expect(account.tokenURL == backend.sendcloud.tokenURL)
            #expect(try await backend.vault.text(of: .refreshToken, of: "carol") != nil)

            // The state is single use.
            #expect(try await backend.get(callback, headers: ["Cookie": cookie]).status == 400)

            let user = try await backend.get("/tenants/carol/user")
            #expect(user.status == 200, "\(user.body)")
            #expect(user.data?["client_id"] as? String == Self.clientID)
            #expect(backend.sendcloud.stats.authorizationCodeGrants == 1)
        }
    }
}
