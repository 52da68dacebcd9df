import AsyncHTTPClient
import CredentialVault
import Foundation
import Hummingbird
import Logging
import SendcloudOAuth

/// An error answer: a status and a JSON body `{"error": {"message": …, "connect": …}}`. Messages are built from
/// `VaultError` and `OAuthError` descriptions, which never hold a secret, and from names — never from a token,
/// a secret or a raw server body.
struct BackendError: HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    /// Where to send the tenant to authorize again (`/connect/{name}`), when that is the remedy.
    var connect: String?
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, connect tenant: AccountName? = nil) {
        self.status = status
        self.message = message
        connect = tenant.map { "/connect/\($0)" }
    }

    /// The answer for an error of the vault, the token endpoint or the API call made for `tenant`.
    init(_ error: any Error, tenant: AccountName, logger: Logger) {
        switch error {
        case let error as BackendError:
            self = error
        case let error as VaultError where error.code == .notFound:
            self.init(.notFound, "no tenant named '\(tenant)'")
        case let error as VaultError where error.code == .lockTimeout || error.code == .unavailable:
            self.init(.serviceUnavailable, "the vault is busy or unreachable; try again")
        case let error as OAuthError where error.code == .reauthorizationRequired:
            self.init(.conflict, "tenant '\(tenant)' must authorize the integration again", connect: tenant)
        case let error as OAuthError where error.code == .unreachable:
            self.init(.badGateway, "Sendcloud's token endpoint is unreachable")
        case let error as OAuthError where error.code == .rateLimited:
            self.init(.serviceUnavailable, "Sendcloud's token endpoint is rate-limiting us; try again")
            headers[.retryAfter] = "\(error.retryAfter.map { max(1, $0.components.seconds) } ?? 60)"
        case let error as OAuthError
        where error.code == .serverError || error.code == .invalidResponse || error.code == .invalidClient:
            self.init(.badGateway, "Sendcloud's token endpoint failed (\(error.code))")
        case is HTTPClientError:
            self.init(.badGateway, "Sendcloud's API is unreachable")
        default:
            self.init(.internalServerError, "internal error")
        }
        if status.code >= 500 {
            // The descriptions of VaultError and OAuthError are free of secrets by contract.
            logger.warning("request failed", metadata: ["account": "\(tenant)", "error": "\(error)"])
        }
    }

    private struct Body: Encodable {
        struct Detail: Encodable {
            var message: String
            var connect: String?
        }
        var error: Detail
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try context.responseEncoder.encode(
            Body(error: .init(message: message, connect: connect)),
            from: request,
            context: context
        )
        response.status = status
        response.headers.append(contentsOf: headers)
        return response
    }
}
