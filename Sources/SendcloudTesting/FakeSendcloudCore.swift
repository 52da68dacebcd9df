import Foundation
import Hummingbird
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The request handlers and state of the fake server. Kept apart from `FakeSendcloud` so that the router's
/// closures do not retain the object that owns the running service group.
final class FakeSendcloudCore: Sendable {
    let state = Mutex(FakeSendcloudState())

    static let maximumBodySize = 1 << 20

    // MARK: Token endpoint

    func token(_ request: Request, channel: any Channel) async -> Response {
        state.withLock { state in
            state.tokenRequestArrivals.append(.now)
            state.tokenRequestsInFlight += 1
            state.stats.maxConcurrentTokenRequests = max(
                state.stats.maxConcurrentTokenRequests,
                state.tokenRequestsInFlight
            )
        }
        defer { state.withLock { $0.tokenRequestsInFlight -= 1 } }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maximumBodySize)
        } catch {
            state.withLock { $0.stats.tokenRequests += 1 }
            return Self.error(413, "invalid_request", hint: "The request body is larger than 1 MiB.")
        }
        let authorization = request.headers[.authorization]
        let isForm = Self.isFormContentType(request.headers[.contentType])
        let form = isForm ? try? Encoding.decodeForm(String(buffer: body)) : nil

        let fault: FakeSendcloud.Fault? = state.withLock { state in
            state.stats.tokenRequests += 1
            if let form { state.receivedForms.append(form) }
            if let authorization { state.receivedAuthorizationHeaders.append(authorization) }
            let fault = state.takeTokenFault()
            if fault != nil { state.stats.faultsServed += 1 }
            return fault
        }
        var dropAfter: Double?
        switch fault {
        case .none:
            break
        case .slow(let seconds):
            await sleep(seconds: seconds)
        case .reset:
            await Self.close(channel, reset: true)
            return Self.unsent
        case .dropAfterProcessing(let delay):
            dropAfter = delay
        case .some(let fault):
            return Self.faultResponse(fault)
        }
        let response = process(form: form, isForm: isForm, authorization: authorization)
        if let dropAfter {
            // The grant has been processed and the state committed: the client never learns the outcome.
            await sleep(seconds: dropAfter)
            await Self.close(channel, reset: false)
            return Self.unsent
        }
        return response
    }

    /// What a handler returns after it closed the connection itself: Hummingbird's attempt to write it fails.
    private static var unsent: Response { Response(status: .internalServerError) }

    /// Closes the connection without an answer; with `reset`, as a reset (`SO_LINGER` 0).
    private static func close(_ channel: any Channel, reset: Bool) async {
        if reset, let socket = channel as? any SocketOptionProvider {
            _ = try? await socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        _ = try? await channel.close().get()
    }

    /// The request's answer from the grant handlers, the state changed under the lock.
    private func process(form: [String: String]?, isForm: Bool, authorization: String?) -> Response {
        guard isForm else {
            return Self.error(
                400,
                "invalid_request",
                hint: "The request Content-Type must be 'application/x-www-form-urlencoded'."
            )
        }
        guard let form else {
            return Self.error(
                400,
                "invalid_request",
                hint: "Unable to parse HTTP body, make sure to send a properly formatted form request body."
            )
        }
        guard !form.isEmpty else {
            return Self.error(400, "invalid_request", hint: "The POST body can not be empty.")
        }
        guard let grantType = form["grant_type"], !grantType.isEmpty else {
            return Self.error(400, "invalid_request", hint: "Request parameter 'grant_type' is missing")
        }
        return state.withLock { state in
            Self.handleToken(grantType: grantType, form: form, authorization: authorization, state: &state)
        }
    }

    private static func handleToken(
        grantType: String,
        form: [String: String],
        authorization: String?,
        state: inout FakeSendcloudState
    ) -> Response {
        let clientID: String
        switch authenticate(authorization, state: &state) {
        case .success(let id):
            clientID = id
        case .failure(let failure):
            state.stats.invalidClient += 1
            return invalidClient(hint: failure.hint)
        }
        switch grantType {
        case "client_credentials":
            let scope = normalizedScope(form["scope"])
            let accessToken = state.issueAccessToken(clientID: clientID, chainID: nil, scope: scope)
            state.stats.clientCredentialsGrants += 1
            return tokenResponse(accessToken: accessToken, refreshToken: nil, scope: scope, state: state)
        case "authorization_code":
            return authorizationCodeGrant(clientID: clientID, form: form, state: &state)
        case "refresh_token":
            return refreshTokenGrant(clientID: clientID, form: form, state: &state)
        default:
            return error(
                400,
                "unsupported_grant_type",
                description: "The authorization grant type is not supported by the authorization server.",
                hint: "The client is not allowed to request grant type '\(grantType)'."
            )
        }
    }

    private static func authorizationCodeGrant(
        clientID: String,
        form: [String: String],
        state: inout FakeSendcloudState
    ) -> Response {
        guard let code = form["code"], let record = state.codes[code] else {
            return invalidGrant(hint: "The authorization code has not been found.", state: &state)
        }
        switch record.status {
        case .used(let chainID):
            // RFC 6749 §4.1.2: a reused code revokes the tokens previously issued from it.
            state.revokeChain(chainID)
            return invalidGrant(hint: "The authorization code has already been used.", state: &state)
        case .burned:
            return invalidGrant(hint: "Unable to find initial PKCE data tied to this request", state: &state)
        case .unused:
            break
        }
        guard record.clientID == clientID else {
            return invalidGrant(
                hint: "The OAuth 2.0 Client ID from this request does not match the one from the authorize request.",
                state: &state
            )
        }
        guard form["redirect_uri"] == record.redirectURI else {
            return invalidGrant(
                hint: "The 'redirect_uri' from this request does not match the one from the authorize request.",
                state: &state
            )
        }
        // Like Hydra (fosite's PKCE handler), the PKCE session is deleted before the verifier is checked:
        // after a wrong verifier the code cannot be used any more.
        state.codes[code]?.status = .burned
        guard let verifier = form["code_verifier"], isValidVerifier(verifier) else {
            return invalidGrant(
                hint: "The PKCE code verifier must be 43 to 128 characters of [A-Za-z0-9-._~].",
                state: &state
            )
        }
        guard Encoding.s256Challenge(verifier: verifier) == record.codeChallenge else {
            return invalidGrant(hint: "The PKCE code challenge did not match the code verifier.", state: &state)
        }
        let chainID = state.makeChain(clientID: clientID, scope: record.scope)
        state.codes[code]?.status = .used(chainID: chainID)
        let accessToken = state.issueAccessToken(clientID: clientID, chainID: chainID, scope: record.scope)
        let scopes = record.scope.split(separator: " ")
        let refreshToken =
            scopes.contains("offline") || scopes.contains("offline_access")
            ? state.issueRefreshToken(clientID: clientID, chainID: chainID) : nil
        state.stats.authorizationCodeGrants += 1
        return tokenResponse(accessToken: accessToken, refreshToken: refreshToken, scope: record.scope, state: state)
    }

    private static func refreshTokenGrant(
        clientID: String,
        form: [String: String],
        state: inout FakeSendcloudState
    ) -> Response {
        guard let presented = form["refresh_token"], let record = state.refreshTokens[presented],
            let chain = state.chains[record.chainID]
        else {
            return invalidGrant(hint: "The refresh token has not been found.", state: &state)
        }
        guard !chain.revoked else {
            return invalidGrant(hint: "The refresh token has been revoked.", state: &state)
        }
        guard record.status == .active else {
            // Hydra's reuse detection: a rotated-away token revokes the whole chain.
            state.revokeChain(record.chainID)
            return invalidGrant(
                hint: "The refresh token was already used; all tokens of this authorization have been revoked.",
                state: &state
            )
        }
        guard record.clientID == clientID else {
            return invalidGrant(
                hint:
                    "The OAuth 2.0 Client ID from this request does not match the ID during the initial token issuance.",
                state: &state
            )
        }
        state.revokeAccessTokens(ofChain: record.chainID)
        let accessToken = state.issueAccessToken(clientID: clientID, chainID: record.chainID, scope: chain.scope)
        var refreshToken: String?
        if state.rotatesRefreshTokens {
            state.refreshTokens[presented]?.status = .used
            refreshToken = state.issueRefreshToken(clientID: clientID, chainID: record.chainID)
        }
        state.stats.refreshGrants += 1
        return tokenResponse(accessToken: accessToken, refreshToken: refreshToken, scope: chain.scope, state: state)
    }

    // MARK: Client authentication

    struct AuthenticationFailure: Error {
        var hint: String
    }

    /// HTTP Basic per RFC 6749 §2.3.1: base64 of `urlencode(id):urlencode(secret)`.
    static func authenticate(
        _ header: String?,
        state: inout FakeSendcloudState
    ) -> Result<String, AuthenticationFailure> {
        guard let header, !header.isEmpty else {
            return .failure(.init(hint: "No client credentials were found in the Authorization header."))
        }
        guard header.split(separator: " ", maxSplits: 1).first?.lowercased() == "basic" else {
            return .failure(.init(hint: "The Authorization header must use the HTTP Basic scheme."))
        }
        guard let text = basicCredentials(header) else {
            return .failure(.init(hint: "The basic authorization header value is not valid base64 of 'id:secret'."))
        }
        let colon = text.firstIndex(of: ":")!
        guard let id = try? Encoding.formUnescape(text[..<colon]),
            let secret = try? Encoding.formUnescape(text[text.index(after: colon)...])
        else {
            return .failure(.init(hint: "The client id or secret in the Authorization header is not url-encoded."))
        }
        return check(id: id, secret: secret, state: &state)
    }

    /// The decoded `id:secret` text of an `Authorization: Basic` header (it holds a colon), or `nil` when the header
    /// uses another scheme or is not base64 of UTF-8 text with a colon.
    static func basicCredentials(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic" else { return nil }
        let encoded = parts[1].trimmingCharacters(in: .whitespaces)
        guard let decoded = Encoding.base64Decode(encoded), let text = String(validating: decoded, as: UTF8.self),
            text.contains(":")
        else { return nil }
        return text
    }

    /// Whether `id` is registered with `secret`; an unknown id is registered with it when the server accepts any
    /// client.
    static func check(
        id: String,
        secret: String,
        state: inout FakeSendcloudState
    ) -> Result<String, AuthenticationFailure> {
        guard let expected = state.clients[id] else {
            if state.acceptsAnyClient {
                state.register(clientID: id, secret: secret)
                return .success(id)
            }
            return .failure(.init(hint: "The requested OAuth 2.0 Client does not exist."))
        }
        guard expected == secret else {
            return .failure(.init(hint: "The provided client secret did not match."))
        }
        return .success(id)
    }

    // MARK: Authorize endpoint

    func authorize(_ request: Request) -> Response {
        guard let query = try? Encoding.decodeForm(request.uri.query ?? "") else {
            return Self.error(400, "invalid_request", hint: "The query string could not be decoded.")
        }
        return state.withLock { state in Self.handleAuthorize(query, state: &state) }
    }

    private static func handleAuthorize(_ query: [String: String], state: inout FakeSendcloudState) -> Response {
        guard let clientID = query["client_id"], state.clients[clientID] != nil || state.acceptsAnyClient else {
            return error(
                400,
                "invalid_client",
                description: invalidClientDescription,
                hint: "The requested OAuth 2.0 Client does not exist."
            )
        }
        guard let redirectURI = query["redirect_uri"], isLoopbackRedirect(redirectURI) else {
            return error(
                400,
                "invalid_request",
                hint: "The 'redirect_uri' parameter must be an http URL on 127.0.0.1 or localhost, without fragment."
            )
        }
        guard query["response_type"] == "code" else {
            return error(
                400,
                "unsupported_response_type",
                description: "The authorization server does not support obtaining a token using this method.",
                hint: "The client is not allowed to request response_type '\(query["response_type"] ?? "")'."
            )
        }
        guard let requestState = query["state"], requestState.count >= 8 else {
            return error(
                400,
                "invalid_state",
                description:
                    "The state is missing or does not have enough characters and is therefore considered too weak.",
                hint: "Request parameter 'state' must be at least be 8 characters long to ensure sufficient entropy."
            )
        }
        guard let challenge = query["code_challenge"], !challenge.isEmpty else {
            return error(
                400,
                "invalid_request",
                hint:
                    "Clients must include a code_challenge when performing the authorize code flow, but it is missing."
            )
        }
        guard query["code_challenge_method"] == "S256" else {
            return error(
                400,
                "invalid_request",
                hint: "Clients must use code_challenge_method=S256, plain is not allowed."
            )
        }
        let code = Encoding.randomToken(prefix: "ac_")
        state.codes[code] = FakeSendcloudState.AuthorizationCode(
            clientID: clientID,
            redirectURI: redirectURI,
            codeChallenge: challenge,
            scope: normalizedScope(query["scope"])
        )
        var returnedState = requestState
        if let fault = state.takeAuthorizeFault(), fault == .wrongState {
            state.stats.faultsServed += 1
            returnedState = Encoding.randomToken(prefix: "wrong_state_")
        }
        let separator = redirectURI.contains("?") ? "&" : "?"
        let location =
            redirectURI + separator + "code=" + Encoding.percentEncode(code) + "&state="
            + Encoding.percentEncode(returnedState)
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        return Response(status: .found, headers: headers)
    }

    static func isLoopbackRedirect(_ uri: String) -> Bool {
        guard let components = URLComponents(string: uri), components.scheme == "http", components.fragment == nil,
            let host = components.host
        else { return false }
        return host == "127.0.0.1" || host == "localhost"
    }

    // MARK: Responses

    static let pragma = HTTPFields.Element.Name("Pragma")!

    static let invalidClientDescription =
        "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method)."
    static let invalidGrantDescription =
        "The provided authorization grant (e.g., authorization code, resource owner credentials) or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
    static let invalidRequestDescription =
        "The request is missing a required parameter, includes an invalid parameter value, includes a parameter more than once, or is otherwise malformed."

    static func invalidClient(hint: String) -> Response {
        var response = error(401, "invalid_client", description: invalidClientDescription, hint: hint)
        response.headers[.wwwAuthenticate] = "Basic realm=\"oauth2\""
        return response
    }

    static func invalidGrant(hint: String, state: inout FakeSendcloudState) -> Response {
        state.stats.invalidGrant += 1
        return error(400, "invalid_grant", description: invalidGrantDescription, hint: hint)
    }

    static func error(
        _ status: Int,
        _ code: String,
        description: String = invalidRequestDescription,
        hint: String
    ) -> Response {
        json(
            status,
            [
                ("error", .string(code)),
                ("error_description", .string(description)),
                ("error_hint", .string(hint)),
                ("status_code", .int(status)),
            ]
        )
    }

    static func tokenResponse(
        accessToken: String,
        refreshToken: String?,
        scope: String,
        state: FakeSendcloudState
    ) -> Response {
        var fields: [(String, Encoding.JSONValue)] = [
            ("access_token", .string(accessToken)),
            ("expires_in", .int(state.accessTokenLifetime)),
        ]
        if let refreshToken {
            fields.append(("refresh_token", .string(refreshToken)))
        }
        fields.append(("scope", .string(scope)))
        fields.append(("token_type", .string("bearer")))
        return json(200, fields)
    }

    static func json(_ status: Int, _ fields: [(String, Encoding.JSONValue)]) -> Response {
        body(status, contentType: "application/json;charset=UTF-8", ByteBuffer(string: Encoding.json(fields)))
    }

    static func body(_ status: Int, contentType: String, _ buffer: ByteBuffer) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        headers[Self.pragma] = "no-cache"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: buffer))
    }

    static func faultResponse(_ fault: FakeSendcloud.Fault) -> Response {
        switch fault {
        case .internalServerError:
            return error(
                500,
                "server_error",
                description:
                    "The authorization server encountered an unexpected condition that prevented it from fulfilling the request.",
                hint: "Injected fault: internal server error."
            )
        case .badGatewayHTML:
            let html =
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
            return body(502, contentType: "text/html", ByteBuffer(string: html))
        case .tooManyRequests(let retryAfter):
            var response = error(
                429,
                "too_many_requests",
                description: "The rate limit for this endpoint has been exceeded.",
                hint: "Retry after \(retryAfter) seconds."
            )
            response.headers[.retryAfter] = String(retryAfter)
            return response
        case .nonJSON200:
            return body(200, contentType: "text/html", ByteBuffer(string: "<html>ok</html>"))
        case .missingAccessToken200:
            return json(200, [("token_type", .string("bearer")), ("expires_in", .int(3600))])
        case .oversizedBody(let bytes):
            return body(200, contentType: "application/json;charset=UTF-8", oversizedJSON(bytes: bytes))
        case .json200(let text):
            return body(200, contentType: "application/json;charset=UTF-8", ByteBuffer(string: text))
        case .oauthError(let status, let code, let description, let hint):
            return error(status, code, description: description, hint: hint)
        case .slow, .reset, .dropAfterProcessing, .wrongState:
            // The connection faults are handled by the caller; `.wrongState` never reaches the token endpoint.
            return error(500, "server_error", hint: "Unexpected fault.")
        }
    }

    /// `{"access_token":"xxx…"}` padded to exactly `bytes` bytes (a prefix of it when `bytes` is tiny).
    static func oversizedJSON(bytes: Int) -> ByteBuffer {
        let prefix = Array(#"{"access_token":""#.utf8)
        let suffix = Array(#""}"#.utf8)
        let total = max(0, bytes)
        var buffer = ByteBufferAllocator().buffer(capacity: total)
        if total < prefix.count + suffix.count {
            buffer.writeBytes((prefix + suffix).prefix(total))
        } else {
            buffer.writeBytes(prefix)
            buffer.writeRepeatingByte(UInt8(ascii: "x"), count: total - prefix.count - suffix.count)
            buffer.writeBytes(suffix)
        }
        return buffer
    }

    // MARK: Helpers

    static func isFormContentType(_ value: String?) -> Bool {
        guard let value else { return false }
        let mediaType = value.split(separator: ";", maxSplits: 1).first ?? ""
        return mediaType.trimmingCharacters(in: .whitespaces).lowercased() == "application/x-www-form-urlencoded"
    }

    /// Space-separated scopes without empty entries.
    static func normalizedScope(_ scope: String?) -> String {
        (scope ?? "").split(separator: " ").joined(separator: " ")
    }

    /// RFC 7636 §4.1: 43 to 128 characters from the unreserved set.
    static func isValidVerifier(_ verifier: String) -> Bool {
        let bytes = Array(verifier.utf8)
        return (43...128).contains(bytes.count) && bytes.allSatisfy(Encoding.isUnreserved)
    }

    /// Sleeps in small steps so that `stop()` is not held up by a slow fault, and `releaseHeldRequests()` can end it.
    private func sleep(seconds: Double) async {
        let deadline = ContinuousClock.now.advanced(by: .seconds(seconds))
        let releases = state.withLock { $0.releases }
        while ContinuousClock.now < deadline, !state.withLock({ $0.stopping || $0.releases != releases }) {
            let remaining = ContinuousClock.now.duration(to: deadline)
            try? await Task.sleep(for: min(remaining, .milliseconds(20)))
        }
    }
}
