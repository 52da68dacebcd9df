public import AsyncHTTPClient
public import CredentialVault
import Foundation
public import Logging
import NIOCore
import NIOHTTP1

/// Talks to an OAuth 2.0 token endpoint the way Sendcloud's (Ory Hydra) expects: form body, HTTP Basic client
/// authentication, the spec's JSON answers.
///
/// Network errors, 5xx and 429 are retried with capped exponential backoff and full jitter, honouring
/// `Retry-After`; every attempt has a timeout and the whole operation a deadline; bodies over a cap are refused.
/// 4xx answers and unusable 2xx answers are not retried.
public struct TokenEndpointClient: Sendable {
    /// Timeouts, attempts and caps.
    public struct Configuration: Sendable {
        /// Timeout of one attempt (connect + request + response).
        public var requestTimeout: Duration = .seconds(20)
        /// Connect timeout, used by ``makeHTTPClient(configuration:)``.
        public var connectTimeout: Duration = .seconds(10)
        /// Attempts in all, the first included.
        public var maxAttempts = 4
        /// One token operation gives up after this long, retries included.
        public var overallTimeout: Duration = .seconds(45)
        /// Response bodies larger than this are refused.
        public var maxResponseBytes = 1 << 20
        /// First backoff; doubled per attempt, with full jitter.
        public var initialBackoff: Duration = .milliseconds(500)
        /// Largest backoff between attempts.
        public var maxBackoff: Duration = .seconds(8)
        /// Largest `Retry-After` honoured; a longer one ends the retries.
        public var maxRetryAfter: Duration = .seconds(30)

        /// The backoff between attempts these settings describe.
        var backoff: Backoff {
            Backoff(initial: initialBackoff, maximum: maxBackoff, maxRetryAfter: maxRetryAfter)
        }

        /// The defaults of DESIGN §6: 10 s connect, 20 s per request, 4 attempts, 45 s overall, 1 MiB bodies.
        public init() {}
    }

    /// Where requests go: the caller's client, or one made on the first request.
    private enum Transport: Sendable {
        case client(HTTPClient)
        case onDemand(HTTPClientOnDemand)
    }

    private let transport: Transport
    /// The configuration in use.
    public let configuration: Configuration
    let logger: Logger

    /// Creates a client over `httpClient` (see ``makeHTTPClient(configuration:)``).
    public init(httpClient: HTTPClient, configuration: Configuration = Configuration(), logger: Logger) {
        transport = .client(httpClient)
        self.configuration = configuration
        self.logger = logger
    }

    /// Creates a client whose `HTTPClient` is made by the first request (for a short-lived process that may need
    /// none); the caller shuts `httpClient` down.
    public init(httpClient: HTTPClientOnDemand, configuration: Configuration = Configuration(), logger: Logger) {
        transport = .onDemand(httpClient)
        self.configuration = configuration
        self.logger = logger
    }

    /// An `HTTPClient` suited to token requests: the connect timeout of `configuration`, no redirects (a
    /// credentialed POST is never sent elsewhere). The caller shuts it down.
    public static func makeHTTPClient(configuration: Configuration = Configuration()) -> HTTPClient {
        var config = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: configuration.connectTimeout.timeAmount,
                read: configuration.requestTimeout.timeAmount
            )
        )
        config.httpVersion = .automatic
        // Fail a refused connection at once and let requestToken's own loop (with its backoff and deadline)
        // decide about retrying, instead of the pool re-dialling until the request times out.
        config.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    /// Sends `grant` with HTTP Basic client authentication and returns the parsed answer. Throws ``OAuthError``,
    /// or `CancellationError` when the calling task is cancelled during a backoff.
    public func requestToken(
        _ grant: Grant,
        tokenURL: String,
        clientID: String,
        clientSecret: SecureBytes
    ) async throws -> TokenResponse {
        try TokenURLPolicy.validate(tokenURL)
        // The form (it holds the refresh token or code) is copied once into the buffer that is sent, and that buffer
        // is zeroed when the request is over (in place when the HTTP client has let go of it, as it has by then).
        var body = Self.formBody(for: grant).withUnsafeBytes { ByteBuffer(bytes: $0) }
        defer { body.withUnsafeMutableReadableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        let authorization = FormEncoding.basicAuthorization(clientID: clientID, clientSecret: clientSecret)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start.advanced(by: configuration.overallTimeout)
        var lastError = OAuthError(.unreachable, "no attempt was made")
        var lastRetryAfter: Duration?
        for attempt in 1...max(1, configuration.maxAttempts) {
            let remaining = deadline - clock.now
            guard remaining > .zero else { break }
            var retryAfter: Duration?
            do {
                let response = try await send(
                    body,
                    authorization: authorization,
                    to: tokenURL,
                    timeout: min(configuration.requestTimeout, remaining)
                )
                switch response {
                case .token(let token):
                    logger.info(
                        "token request succeeded",
                        metadata: [
                            "grant": "\(grant.name)", "attempt": "\(attempt)", "latency": "\(clock.now - start)",
                        ]
                    )
                    return token
                case .retryable(let error, let after):
                    lastError = error
                    retryAfter = after
                    lastRetryAfter = after
                }
            } catch {
                guard error.code == .unreachable else { throw error }
                lastError = error
                lastRetryAfter = nil
            }
            logger.notice(
                "token request failed, may retry",
                metadata: ["grant": "\(grant.name)", "attempt": "\(attempt)", "error": "\(lastError.code)"]
            )
            guard attempt < configuration.maxAttempts,
                let delay = configuration.backoff.delay(afterAttempt: attempt, retryAfter: retryAfter)
            else { break }
            guard clock.now.advanced(by: delay) < deadline else { break }
            try await Task.sleep(for: delay)  // a cancelled caller stops here with CancellationError
        }
        logger.warning("token request gave up", metadata: ["grant": "\(grant.name)", "error": "\(lastError.code)"])
        throw lastError.retrying(after: lastRetryAfter)
    }

    enum Outcome {
        case token(TokenResponse)
        case retryable(OAuthError, retryAfter: Duration?)
    }

    /// One attempt. Throws final errors (4xx, unusable 2xx) and `.unreachable` for transport failures; returns
    /// `.retryable` for 5xx and 429.
    private func send(
        _ body: ByteBuffer,
        authorization: String,
        to url: String,
        timeout: Duration
    ) async throws(OAuthError) -> Outcome {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "User-Agent", value: "sendcloud-vault/0.1")
        request.body = .bytes(body)
        let attemptDeadline = ContinuousClock.now.advanced(by: timeout)
        let response: HTTPClientResponse
        do {
            let httpClient =
                switch transport {
                case .client(let client): client
                case .onDemand(let onDemand): try onDemand.client()
                }
            response = try await httpClient.execute(request, timeout: timeout.timeAmount, logger: logger)
        } catch {
            throw OAuthError(
                .unreachable,
                "the token endpoint did not answer: \(TransportFailure.describe(error))",
                underlying: error
            )
        }
        let code = Int(response.status.code)
        let headers = response.headers
        // The request timeout of AsyncHTTPClient ends with the response head: the body gets the rest of this
        // attempt's time. A 2xx answer whose body cannot be read is unusable and not retried (the grant may have
        // been used); for other answers only the status matters then.
        let bytes: ByteBuffer
        do {
            bytes = try await Self.collect(response.body, upTo: configuration.maxResponseBytes, before: attemptDeadline)
        } catch {
            guard (200..<300).contains(code) else { return try Self.classify(code, headers, ByteBuffer()) }
            if error is NIOTooManyBytesError {
                throw OAuthError(
                    .invalidResponse,
                    "the token endpoint's answer exceeds \(configuration.maxResponseBytes) bytes",
                    httpStatus: code,
                    underlying: error
                )
            }
            throw OAuthError(
                .invalidResponse,
                "the body of the token endpoint's 2xx answer could not be read in time or whole",
                httpStatus: code,
                underlying: error
            )
        }
        return try Self.classify(code, headers, bytes)
    }

    /// Reads the whole body, at most `limit` bytes, before `deadline`.
    private static func collect(
        _ body: HTTPClientResponse.Body,
        upTo limit: Int,
        before deadline: ContinuousClock.Instant
    ) async throws -> ByteBuffer {
        try await withThrowingTaskGroup(of: ByteBuffer.self, returning: ByteBuffer.self) { group in
            group.addTask { try await body.collect(upTo: limit) }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                throw CancellationError()
            }
            let first = try await group.next()
            group.cancelAll()
            guard let first else { throw CancellationError() }
            return first
        }
    }

    /// Maps a status and body to a token, a retryable error (5xx, 429) or a final error (4xx).
    private static func classify(_ code: Int, _ headers: HTTPHeaders, _ bytes: ByteBuffer) throws(OAuthError) -> Outcome
    {
        let receivedAt = Date()
        switch code {
        case 200..<300:
            return .token(try TokenResponseParser.parseSuccess(bytes, receivedAt: receivedAt))
        case 429:
            let error = TokenResponseParser.parseError(bytes, status: code)
            return .retryable(
                OAuthError(
                    .rateLimited,
                    "rate limited by the token endpoint (HTTP 429)\(error.detail)",
                    httpStatus: code,
                    oauthError: error.error
                ),
                retryAfter: Self.retryAfter(headers)
            )
        case 500..<600:
            let error = TokenResponseParser.parseError(bytes, status: code)
            return .retryable(
                OAuthError(
                    .serverError,
                    "the token endpoint failed (HTTP \(code))\(error.detail)",
                    httpStatus: code,
                    oauthError: error.error
                ),
                retryAfter: Self.retryAfter(headers)
            )
        default:
            throw TokenResponseParser.parseError(bytes, status: code).oauthError
        }
    }

    static func formBody(for grant: Grant) -> SecureBytes {
        var fields: [(String, FormEncoding.FormValue)] = [("grant_type", .text(grant.name))]
        switch grant {
        case .clientCredentials(let scope):
            if let scope, !scope.isEmpty { fields.append(("scope", .text(scope))) }
        case .authorizationCode(let code, let redirectURI, let verifier):
            fields.append(("code", .secret(code)))
            fields.append(("redirect_uri", .text(redirectURI)))
            if let verifier { fields.append(("code_verifier", .secret(verifier))) }
        case .refreshToken(let token, let scope):
            fields.append(("refresh_token", .secret(token)))
            if let scope, !scope.isEmpty { fields.append(("scope", .text(scope))) }
        }
        return FormEncoding.encode(fields)
    }

    /// `Retry-After` as seconds or an HTTP date (see ``Backoff/retryAfter(_:now:)``).
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        headers.first(name: "Retry-After").flatMap { Backoff.retryAfter($0) }
    }
}
