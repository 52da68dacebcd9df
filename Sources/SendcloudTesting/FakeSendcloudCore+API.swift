import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// The local stand-in for Sendcloud's API: one endpoint that tells who a request authenticated as.
extension FakeSendcloudCore {
    /// Who an API request authenticated as.
    struct APIIdentity {
        var clientID: String
        var integrationID: Int
        var userID: Int
        /// `oauth2` for a Bearer access token, `api_key` for HTTP Basic with the client id and secret.
        var method: String
        var scope: String?
    }

    /// Why an API request was refused: the `WWW-Authenticate` challenges and the error's detail.
    struct APIRefusal: Error {
        var challenges: [String]
        var detail: String
    }

    static let apiRealm = "realm=\"sendcloud\""

    /// `GET /api/v3/user/auth/metadata`: 200 with the identity of the request's credentials, else 401.
    func userAuthMetadata(_ request: Request) -> Response {
        let authorization = request.headers[.authorization]
        return state.withLock { state in
            state.stats.apiRequests += 1
            switch Self.identify(authorization, state: &state) {
            case .success(let identity):
                var fields: [(String, Encoding.JSONValue)] = [
                    ("user_id", .int(identity.userID)),
                    ("integration_id", .int(identity.integrationID)),
                    ("client_id", .string(identity.clientID)),
                    ("auth_method", .string(identity.method)),
                ]
                if let scope = identity.scope { fields.append(("scope", .string(scope))) }
                let body = "{\"data\":" + Encoding.json(fields) + "}"
                return Self.body(200, contentType: "application/json", ByteBuffer(string: body))
            case .failure(let refusal):
                state.stats.apiUnauthorized += 1
                return Self.unauthorized(refusal)
            }
        }
    }

    /// The identity behind an `Authorization` header: a valid (issued, not revoked, not expired) Bearer access
    /// token, or HTTP Basic `client_id:client_secret` (RFC 7617, not form-encoded: Sendcloud's API key pair).
    static func identify(_ header: String?, state: inout FakeSendcloudState) -> Result<APIIdentity, APIRefusal> {
        let bearer = "Bearer \(apiRealm)"
        let basic = "Basic \(apiRealm)"
        guard let header, !header.isEmpty else {
            return .failure(
                .init(challenges: [bearer, basic], detail: "Authentication credentials were not provided.")
            )
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        let scheme = parts.first?.lowercased()
        if scheme == "bearer", parts.count == 2 {
            let token = parts[1].trimmingCharacters(in: .whitespaces)
            guard state.isAccessTokenValid(token), let record = state.accessTokens[token] else {
                return .failure(
                    .init(
                        challenges: [
                            bearer + ", error=\"invalid_token\", "
                                + "error_description=\"The access token is unknown, revoked or expired.\""
                        ],
                        detail: "The access token is unknown, revoked or expired."
                    )
                )
            }
            let integrationID = state.clientNumbers[record.clientID] ?? 0
            return .success(
                APIIdentity(
                    clientID: record.clientID,
                    integrationID: integrationID,
                    userID: record.chainID.map { 1000 + $0 } ?? integrationID,
                    method: "oauth2",
                    scope: record.scope
                )
            )
        }
        if scheme == "basic", let text = basicCredentials(header) {
            let colon = text.firstIndex(of: ":")!
            let id = String(text[..<colon])
            let secret = String(text[text.index(after: colon)...])
            guard case .success = check(id: id, secret: secret, state: &state) else {
                return .failure(.init(challenges: [basic], detail: "Invalid username/password."))
            }
            let integrationID = state.clientNumbers[id] ?? 0
            return .success(
                APIIdentity(clientID: id, integrationID: integrationID, userID: integrationID, method: "api_key")
            )
        }
        return .failure(
            .init(challenges: [bearer, basic], detail: "The Authorization header uses neither Bearer nor Basic.")
        )
    }

    /// 401 with one `WWW-Authenticate` field per challenge and a v3-style error body.
    static func unauthorized(_ refusal: APIRefusal) -> Response {
        let body =
            "{\"errors\":["
            + Encoding.json([
                ("status", .string("401")), ("code", .string("authentication_failed")),
                ("detail", .string(refusal.detail)),
            ]) + "]}"
        var response = Self.body(401, contentType: "application/json", ByteBuffer(string: body))
        response.headers[values: .wwwAuthenticate] = refusal.challenges
        return response
    }
}
