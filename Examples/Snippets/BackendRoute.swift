// snippet: embedding-route
import AsyncHTTPClient
import CredentialVault
import Hummingbird
import Logging
import NIOHTTP1
import SendcloudOAuth
import SendcloudVaultService

/// `GET /tenants/{name}/user`: Sendcloud's "who am I" for that tenant, its JSON as it came.
func user(of tenant: AccountName, vault: VaultService, api: String, logger: Logger) async throws -> Response {
    let request = HTTPClientRequest(url: api + "/user/auth/metadata")
    do {
        // A valid token from memory; on a 401, one refresh (one for a burst of 401s) and one retry.
        let response = try await vault.provider.execute(request, for: tenant, on: vault.httpClient, logger: logger)
        let body = try await response.body.collect(upTo: 1 << 20)
        return Response(
            status: .init(code: Int(response.status.code)),
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: body)
        )
    } catch let error as VaultError where error.code == .notFound {
        throw HTTPError(.notFound, message: "no tenant named '\(tenant)'")
    } catch let error as OAuthError where error.code == .reauthorizationRequired {
        throw HTTPError(.conflict, message: "tenant '\(tenant)' must authorize again: /connect/\(tenant)")
    } catch let error as OAuthError {
        // Its description never holds a secret: safe to log.
        logger.warning("token request failed", metadata: ["account": "\(tenant)", "error": "\(error)"])
        throw HTTPError(.badGateway, message: "Sendcloud's token endpoint failed (\(error.code))")
    } catch is HTTPClientError {
        throw HTTPError(.badGateway, message: "Sendcloud's API is unreachable")
    }
}
// end snippet
