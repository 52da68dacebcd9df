import AsyncHTTPClient
import CredentialVault
import Hummingbird
import Logging
import NIOHTTP1
import SendcloudOAuth
import SendcloudVaultService

/// `GET /tenants/{name}/user`: Sendcloud's `GET /user/auth/metadata` (who the credentials belong to) as that tenant.
struct TenantRoutes: Sendable {
    let vault: VaultService
    /// The base of Sendcloud's API v3.
    let apiURL: String

    func register(on router: Router<BasicRequestContext>) {
        router.get("/tenants/{name}/user") { _, context in
            try await user(of: try TenantName.parse(context.parameters.get("name")), logger: context.logger)
        }
    }

    /// Calls the API as `tenant` and returns its JSON as it came. `execute` sets the tenant's Authorization header
    /// (a token from memory while it is valid) and, when the API answers 401, refreshes once — one refresh for a
    /// burst of 401s — and sends the request again.
    func user(of tenant: AccountName, logger: Logger) async throws -> Response {
        let request = HTTPClientRequest(url: apiURL + "/user/auth/metadata")
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await vault.provider.execute(request, for: tenant, on: vault.httpClient, logger: logger)
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw BackendError(error, tenant: tenant, logger: logger)
        }
        switch response.status.code {
        case 200..<300, 400..<401, 402..<500:
            // The API's own answer, status and JSON (a 404 or 422 of the API is the caller's business).
            var headers: HTTPFields = [:]
            headers[.contentType] = response.headers.first(name: "Content-Type") ?? "application/json"
            return Response(
                status: .init(code: Int(response.status.code)),
                headers: headers,
                body: ResponseBody(byteBuffer: body)
            )
        case 401:
            // Refused even with a token obtained just now: the tenant revoked the integration, or scopes changed.
            throw BackendError(
                .badGateway,
                "Sendcloud's API refused tenant '\(tenant)' even after a token refresh; ask them to connect again",
                connect: tenant
            )
        default:
            throw BackendError(.badGateway, "Sendcloud's API answered \(response.status.code)")
        }
    }
}

/// A tenant name from a URL.
enum TenantName {
    /// The name, or 404 for one that cannot be an account name (it is not echoed: it may be anything).
    static func parse(_ text: String?) throws -> AccountName {
        guard let text, let name = try? AccountName(text) else {
            throw BackendError(.notFound, "no such tenant (not a valid tenant name)")
        }
        return name
    }
}
