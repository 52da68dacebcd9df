import Hummingbird
import NIOCore
import Synchronization

/// The control routes under `/dev/` that `sendcloud-dev-endpoint` serves (`FakeSendcloud.start(developmentRoutes:)`):
/// counters to watch, and the few changes a script such as the `demo` makes to a running server.
extension FakeSendcloudCore {
    /// The header every `POST /dev/…` request must carry (value `1`): a cross-origin web page cannot send it.
    static let controlHeader = HTTPFields.Element.Name("Sendcloud-Dev-Control")!

    /// Registers `GET /dev/stats`, `POST /dev/revoke` and `POST /dev/access-token-lifetime` on `router`.
    func addDevelopmentRoutes(to router: Router<FakeSendcloudContext>) {
        router.get("/dev/stats") { _, _ in self.statsResponse() }
        router.post("/dev/revoke") { request, _ in
            Self.control(request) { query in
                guard let clientID = query["client_id"], !clientID.isEmpty else {
                    return Self.error(400, "invalid_request", hint: "The query parameter 'client_id' is missing.")
                }
                let revoked = self.state.withLock { $0.revokeChains(ofClient: clientID) }
                return Self.json(
                    200,
                    [("client_id", .string(clientID)), ("revoked_authorizations", .int(revoked))]
                )
            }
        }
        router.post("/dev/access-token-lifetime") { request, _ in
            Self.control(request) { query in
                guard let seconds = query["seconds"].flatMap({ Int($0) }), seconds >= 0 else {
                    return Self.error(
                        400,
                        "invalid_request",
                        hint: "The query parameter 'seconds' must be a whole number, 0 or more."
                    )
                }
                self.state.withLock { $0.accessTokenLifetime = seconds }
                return Self.json(200, [("access_token_lifetime", .int(seconds))])
            }
        }
    }

    /// `GET /dev/stats`: the counters as a flat JSON object.
    func statsResponse() -> Response {
        let stats = state.withLock { $0.stats }
        return Self.json(
            200,
            [
                ("token_requests", .int(stats.tokenRequests)),
                ("client_credentials_grants", .int(stats.clientCredentialsGrants)),
                ("authorization_code_grants", .int(stats.authorizationCodeGrants)),
                ("refresh_grants", .int(stats.refreshGrants)),
                ("invalid_grant", .int(stats.invalidGrant)),
                ("invalid_client", .int(stats.invalidClient)),
                ("faults_served", .int(stats.faultsServed)),
                ("max_concurrent_token_requests", .int(stats.maxConcurrentTokenRequests)),
                ("api_requests", .int(stats.apiRequests)),
                ("api_unauthorized", .int(stats.apiUnauthorized)),
            ]
        )
    }

    /// Runs `body` with the decoded query when the request carries ``controlHeader`` (else 403).
    private static func control(_ request: Request, _ body: ([String: String]) -> Response) -> Response {
        guard request.headers[controlHeader] == "1" else {
            return error(
                403,
                "request_forbidden",
                description: "The request is not allowed.",
                hint: "A /dev/ control request needs the header 'Sendcloud-Dev-Control: 1'."
            )
        }
        guard let query = try? Encoding.decodeForm(request.uri.query ?? "") else {
            return error(400, "invalid_request", hint: "The query string could not be decoded.")
        }
        return body(query)
    }
}
