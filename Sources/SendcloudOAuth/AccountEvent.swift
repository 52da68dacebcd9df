public import CredentialVault
public import Foundation

/// Something that happened to an account's tokens, for an embedder's webhooks and alerts
/// (``TokenProvider/events(bufferingNewest:)``).
///
/// Events carry the account's name, what happened, the server's sanitised message where there is one, and never a
/// secret: no token, no client secret, no authorization code.
public struct AccountEvent: Sendable, Equatable, CustomStringConvertible {
    /// What happened.
    public enum Kind: Sendable, Equatable {
        /// New tokens were obtained and stored (any grant but the authorization code one).
        case refreshed(expiresAt: Date?)
        /// A token request failed; the account keeps its secrets and is tried again later (the refresher backs off).
        case refreshFailed(RefreshFailure, message: String)
        /// The server rejected the refresh token (`invalid_grant`), or the account has none: the merchant must
        /// authorize again. The refresher skips the account until then.
        case reauthorizationRequired(message: String)
        /// An existing account was authorized again (authorization code grant): new tokens, status `ok`.
        case reauthorized
        /// A new account was stored through the authorization code grant.
        case authorized
    }

    /// The account.
    public var account: AccountName
    /// What happened.
    public var kind: Kind
    /// When it happened.
    public var date: Date

    /// Creates an event.
    public init(account: AccountName, kind: Kind, date: Date = Date()) {
        self.account = account
        self.kind = kind
        self.date = date
    }

    /// `account: kind`, free of secrets.
    public var description: String {
        switch kind {
        case .refreshed: "\(account): refreshed"
        case .refreshFailed(let failure, let message): "\(account): refresh failed (\(failure)): \(message)"
        case .reauthorizationRequired(let message): "\(account): re-authorization required: \(message)"
        case .reauthorized: "\(account): re-authorized"
        case .authorized: "\(account): authorized"
        }
    }
}

/// Why a token request failed, in the terms an alert needs.
public enum RefreshFailure: String, Sendable, Equatable, CustomStringConvertible {
    /// No answer: connection refused or reset, DNS, timeouts (after retries).
    case unreachable
    /// 429 answers until the retries ran out.
    case rateLimited = "rate-limited"
    /// 5xx answers until the retries ran out.
    case serverError = "server-error"
    /// A 2xx answer that cannot be used (not JSON, no token, too large).
    case unusableAnswer = "unusable-answer"
    /// The client id or secret was refused (`invalid_client`).
    case clientRejected = "client-rejected"
    /// Another 4xx answer (`invalid_request`, `invalid_scope`, …), or anything else.
    case rejected
    /// The server issued tokens, but storing them failed (the store unreachable past the retries, or the record kept
    /// changing): a rotated refresh token may be lost, and the next refresh then needs re-authorization.
    case notStored = "not-stored"

    /// The failure kind of an ``OAuthError``.
    init(_ error: OAuthError) {
        switch error.code {
        case .unreachable: self = .unreachable
        case .rateLimited: self = .rateLimited
        case .serverError: self = .serverError
        case .invalidResponse: self = .unusableAnswer
        case .invalidClient: self = .clientRejected
        default: self = .rejected
        }
    }

    /// The raw value.
    public var description: String { rawValue }
}
