/// The one error type of `SendcloudOAuth`.
///
/// Compare ``code`` with the static members. ``message`` is for an operator: it may quote the server's
/// `error`/`error_description` (sanitised and shortened) but never a token, a secret or a raw response body; so
/// does ``description``. The error this one wraps, if any (a transport error of the HTTP client, a SwiftNIO error),
/// is kept as ``underlying`` and shown only by ``debugDescription`` (`String(reflecting:)`), which is for
/// debugging, not for logs that others read.
public struct OAuthError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case reauthorizationRequired = "reauth-required"
            case invalidClient = "invalid-client"
            case requestRejected = "request-rejected"
            case serverError = "server-error"
            case rateLimited = "rate-limited"
            case unreachable = "unreachable"
            case invalidResponse = "invalid-response"
            case insecureTokenURL = "insecure-token-url"
            case notSupported = "not-supported"
            case authorizationFailed = "authorization-failed"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The server rejected the grant (`invalid_grant`), or the account is already marked so: the merchant must
        /// authorize again. The stored secrets are kept.
        public static let reauthorizationRequired = Code(.reauthorizationRequired)
        /// Client authentication failed (`invalid_client`): wrong or rotated client secret.
        public static let invalidClient = Code(.invalidClient)
        /// Another 4xx answer (`invalid_request`, `invalid_scope`, `unauthorized_client`, ...). Not retried.
        public static let requestRejected = Code(.requestRejected)
        /// 5xx answers until the attempts or the deadline ran out.
        public static let serverError = Code(.serverError)
        /// 429 answers until the attempts or the deadline ran out.
        public static let rateLimited = Code(.rateLimited)
        /// No answer: connection refused or reset, DNS failure, timeouts — after retries.
        public static let unreachable = Code(.unreachable)
        /// A 2xx answer that cannot be used (not JSON, no `access_token`, over the size cap). Not retried: the
        /// grant may already have been used.
        public static let invalidResponse = Code(.invalidResponse)
        /// The token URL is not https (plain http is allowed only for loopback hosts). Nothing was sent.
        public static let insecureTokenURL = Code(.insecureTokenURL)
        /// The account's mode has no such operation (a `basic` account has no access token).
        public static let notSupported = Code(.notSupported)
        /// The browser authorization did not complete (state mismatch, error redirect, timeout).
        public static let authorizationFailed = Code(.authorizationFailed)

        /// A short kebab-case name.
        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// A human-readable explanation free of secrets.
    public let message: String
    /// The last HTTP status received, if any.
    public let httpStatus: Int?
    /// The OAuth `error` field of the last error answer, if any.
    public let oauthError: String?
    /// The error that caused this one (a transport or SwiftNIO error), if any. Its own description is not vetted:
    /// it appears in ``debugDescription`` only.
    public let underlying: (any Error)?
    /// The server's `Retry-After` on the last answer (429 or 5xx), if it sent one: the refresher waits at least that
    /// long before trying the account again.
    public let retryAfter: Duration?

    /// Creates an error; `message` must not contain secrets.
    public init(
        _ code: Code,
        _ message: String,
        httpStatus: Int? = nil,
        oauthError: String? = nil,
        underlying: (any Error)? = nil,
        retryAfter: Duration? = nil
    ) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
        self.oauthError = oauthError
        self.underlying = underlying
        self.retryAfter = retryAfter
    }

    /// This error with ``retryAfter`` set to `delay`.
    func retrying(after delay: Duration?) -> OAuthError {
        OAuthError(
            code,
            message,
            httpStatus: httpStatus,
            oauthError: oauthError,
            underlying: underlying,
            retryAfter: delay
        )
    }

    /// `code: message` — free of secrets and raw server bodies.
    public var description: String { "\(code): \(message)" }

    /// Every detail, for debugging: code, message, HTTP status, OAuth `error` and the underlying error.
    public var debugDescription: String {
        var text = "OAuthError(code: \(code), message: \(String(reflecting: message))"
        if let httpStatus { text += ", httpStatus: \(httpStatus)" }
        if let oauthError { text += ", oauthError: \(String(reflecting: oauthError))" }
        if let retryAfter { text += ", retryAfter: \(retryAfter)" }
        if let underlying { text += ", underlying: \(String(reflecting: underlying))" }
        return text + ")"
    }
}
