public import CredentialVault
import Foundation
public import Logging

/// Hands out valid access tokens for the accounts of a vault, refreshing through the token endpoint.
///
/// - A stored access token is returned while it stays valid for longer than ``Configuration/skew``.
/// - **Single flight.** Concurrent callers for one account share one in-flight refresh in this process; across
///   processes and hosts the vault's per-account lock (``CredentialVault/withAccountLock(_:timeout:_:isolation:)``)
///   serialises them, and whoever gets the lock second re-reads the account and takes the token the first one
///   stored instead of refreshing again. Other accounts are never blocked.
/// - The new access token and the rotated refresh token are committed (compare-and-swap on the account's
///   generation, one durable transaction) before the token is returned to anyone. A response without a refresh
///   token keeps the old one.
/// - `invalid_grant` marks the account `reauth-required` with the server's message and keeps its secrets; later
///   calls fail at once without contacting the server until ``refresh(_:retryReauthorization:)`` with `true`.
public final class TokenProvider: Sendable {
    /// Provider settings.
    public struct Configuration: Sendable {
        /// A stored token is used only while it stays valid this much longer.
        public var skew: Duration = .seconds(60)
        /// How long to wait for another holder of an account's lock.
        public var lockTimeout: Duration = .seconds(60)
        /// The scope of client-credentials grants when the account names none.
        public var defaultClientCredentialsScope = "api"

        /// The defaults of DESIGN §5/§6.
        public init() {}
    }

    /// The vault the tokens live in.
    public let vault: CredentialVault
    let client: TokenEndpointClient
    /// The settings in use.
    public let configuration: Configuration
    let logger: Logger
    private let inFlight = SingleFlight<AccountName, AccessToken>()

    /// Creates a provider over `vault` that obtains tokens with `client`.
    public init(
        vault: CredentialVault,
        client: TokenEndpointClient,
        configuration: Configuration = Configuration(),
        logger: Logger
    ) {
        self.vault = vault
        self.client = client
        self.configuration = configuration
        self.logger = logger
    }

    /// A valid access token for `name`: the stored one while it is valid for longer than the skew, else a new one.
    /// Throws ``OAuthError`` (``OAuthError/Code/reauthorizationRequired`` for an account marked so, without
    /// contacting the server) or ``VaultError``.
    public func accessToken(for name: AccountName) async throws -> AccessToken {
        let (account, secrets) = try await vault.openAccount(named: name)
        return try await accessToken(account, secrets)
    }

    /// ``accessToken(for:)`` for an account already read (one vault read per call on the hot path).
    private func accessToken(_ account: Account, _ secrets: AccountSecrets) async throws -> AccessToken {
        let name = account.name
        let token = Self.usable(secrets.accessToken)
        let decision = RefreshDecision.beforeLock(
            account,
            hasUsableToken: token != nil,
            reuseIfValidFor: configuration.skew,
            retryReauthorization: false,
            now: Date()
        )
        if let stored = try Self.storedToken(decision, account, token) { return stored }
        return try await inFlight.run(name) {
            try await self.obtain(
                name,
                observedRefreshedAt: account.refreshedAt,
                reuseIfValidFor: self.configuration.skew,
                retryReauthorization: false
            )
        }
    }

    /// Obtains a new token from the server now — unless another holder refreshed the account while this call
    /// waited (then its token is returned), or, with `ifExpiringWithin`, the stored token (re-read under the lock)
    /// is still valid for longer than that window. An account marked `reauth-required` is tried again only with
    /// `retryReauthorization`. A call that joins a refresh already in flight for the account takes its result.
    public func refresh(
        _ name: AccountName,
        retryReauthorization: Bool = false,
        ifExpiringWithin window: Duration? = nil
    ) async throws -> AccessToken {
        let account = try await vault.account(named: name)
        // No reuse before the lock: the window is checked on the record re-read under it.
        let decision = RefreshDecision.beforeLock(
            account,
            hasUsableToken: false,
            reuseIfValidFor: nil,
            retryReauthorization: retryReauthorization,
            now: Date()
        )
        _ = try Self.storedToken(decision, account, nil)
        return try await inFlight.run(name) {
            try await self.obtain(
                name,
                observedRefreshedAt: account.refreshedAt,
                reuseIfValidFor: window,
                retryReauthorization: retryReauthorization
            )
        }
    }

    /// The `Authorization` header value for API calls of `name`: `Bearer <access token>` (obtained as by
    /// ``accessToken(for:)``), or `Basic base64(public:secret)` for a `basic` account.
    public func authorizationHeaderValue(for name: AccountName) async throws -> String {
        let (account, secrets) = try await vault.openAccount(named: name)
        if account.mode == .basic {
            guard let secret = secrets.clientSecret else {
                throw VaultError.noClientSecret(name)
            }
            // RFC 7617: base64(public:secret), built in wipeable buffers; the header value is the one String.
            let pair = SecureBytes.concatenating([SecureBytes(utf8: account.clientID + ":"), secret])
            return "Basic " + (pair.base64Encoded().unsafeStringValue() ?? "")
        }
        return try await accessToken(account, secrets).authorizationHeaderValue
    }

    // MARK: - Internals

    /// A stored access token fit for a header: b64token characters only (one stored by an earlier version could hold
    /// anything the server sent); anything else counts as no token, and a new one is obtained.
    private static func usable(_ token: SecureBytes?) -> SecureBytes? {
        guard let token, TokenSyntax.isB64Token(token) else { return nil }
        return token
    }

    /// Carries out the part of `decision` that needs no server: the stored token for ``RefreshDecision/reuseStored``
    /// and ``RefreshDecision/takeOthersToken``, the error for ``RefreshDecision/refuse(_:)``; `nil` for
    /// ``RefreshDecision/refresh``.
    private static func storedToken(
        _ decision: RefreshDecision,
        _ account: Account,
        _ token: SecureBytes?
    ) throws -> AccessToken? {
        switch decision {
        case .refresh:
            return nil
        case .refuse(.basicMode):
            throw OAuthError(
                .notSupported,
                "account '\(account.name)' uses basic authentication and has no access token"
            )
        case .refuse(.reauthorizationRequired):
            throw reauthError(account)
        case .reuseStored, .takeOthersToken:
            guard let token else { return nil }  // not reached: both decisions require a usable token
            return AccessToken(
                account: account.name,
                value: token,
                expiresAt: account.accessTokenExpiresAt,
                obtainedFromServer: false
            )
        }
    }

    private static func reauthError(_ account: Account) -> OAuthError {
        OAuthError(
            .reauthorizationRequired,
            "account '\(account.name)' needs re-authorization\(account.lastError.map { ": \($0)" } ?? "")",
            oauthError: "invalid_grant"
        )
    }

    /// Under the account lock: re-read, reuse another holder's fresh result, or run the grant and commit (see
    /// ``RefreshDecision/underLock(_:hasUsableToken:observedRefreshedAt:reuseIfValidFor:retryReauthorization:now:)``).
    private func obtain(
        _ name: AccountName,
        observedRefreshedAt: Date?,
        reuseIfValidFor window: Duration?,
        retryReauthorization: Bool
    ) async throws -> AccessToken {
        try await vault.withAccountLock(name, timeout: configuration.lockTimeout) {
            let (account, secrets) = try await vault.openAccount(named: name)
            let token = Self.usable(secrets.accessToken)
            let decision = RefreshDecision.underLock(
                account,
                hasUsableToken: token != nil,
                observedRefreshedAt: observedRefreshedAt,
                reuseIfValidFor: window,
                retryReauthorization: retryReauthorization,
                now: Date()
            )
            if decision == .takeOthersToken {
                // Another holder refreshed while we waited: take its token (no skew check, no second refresh).
                logger.debug("took the token another holder obtained", metadata: ["account": "\(name)"])
            }
            if let stored = try Self.storedToken(decision, account, token) { return stored }
            return try await grantAndCommit(account, secrets)
        }
    }

    private func grantAndCommit(_ account: Account, _ secrets: AccountSecrets) async throws -> AccessToken {
        guard let clientSecret = secrets.clientSecret else {
            throw VaultError.noClientSecret(account.name)
        }
        let grant: Grant
        switch account.mode {
        case .clientCredentials:
            grant = .clientCredentials(scope: account.scopes ?? configuration.defaultClientCredentialsScope)
        case .refreshToken:
            guard let refreshToken = secrets.refreshToken else {
                let error = OAuthError(
                    .reauthorizationRequired,
                    "account '\(account.name)' has no refresh token; authorize it again (login)"
                )
                try await record(account, secrets, status: .reauthRequired, error: error)
                throw error
            }
            grant = .refreshToken(refreshToken, scope: nil)
        case .basic:
            throw OAuthError(.notSupported, "basic accounts have no token")
        }
        let start = ContinuousClock.now
        let response: TokenResponse
        do {
            response = try await client.requestToken(
                grant,
                tokenURL: account.tokenURL,
                clientID: account.clientID,
                clientSecret: clientSecret
            )
        } catch let error as OAuthError {
            logger.warning(
                "token refresh failed",
                metadata: ["account": "\(account.name)", "grant": "\(grant.name)", "error": "\(error.code)"]
            )
            let status: AccountStatus = error.code == .reauthorizationRequired ? .reauthRequired : account.status
            try? await record(account, secrets, status: status, error: error)
            throw error
        }  // A cancelled caller (CancellationError) records nothing.
        // The server may have rotated the refresh token: this write must not be lost (see ``commit(_:_:_:)``).
        let stored = try await commit(account, secrets) { updated, newSecrets in
            updated.accessTokenExpiresAt = response.expiresAt
            updated.refreshedAt = response.receivedAt
            updated.status = .ok
            updated.lastError = nil
            newSecrets.accessToken = response.accessToken
            if let rotated = response.refreshToken { newSecrets.refreshToken = rotated }
        }
        logger.info(
            "token refreshed",
            metadata: [
                "account": "\(account.name)", "grant": "\(grant.name)", "rotated": "\(response.refreshToken != nil)",
                "latency": "\(ContinuousClock.now - start)",
            ]
        )
        return AccessToken(
            account: account.name,
            value: response.accessToken,
            expiresAt: stored.accessTokenExpiresAt,
            obtainedFromServer: true
        )
    }

    /// Stores a failure on the account (status and message), keeping every secret.
    private func record(
        _ account: Account,
        _ secrets: AccountSecrets,
        status: AccountStatus,
        error: OAuthError
    ) async throws {
        _ = try await commit(account, secrets) { updated, _ in
            updated.status = status
            updated.lastError = error.message
        }
    }

    /// Applies `change` to the account and writes it by compare-and-swap. The caller holds the account's lock, so
    /// a conflict can only come from a writer that does not take it — a data-key rotation, an operator's edit:
    /// then the account is re-read (with the rotated key, if any) and `change` applied to the fresh record, so
    /// that a rotated refresh token is never dropped. Gives up after three conflicts.
    ///
    /// A store that is briefly unreachable (``VaultError/Code/unavailable``: a database restarting or failing over)
    /// is retried with backoff for up to ``storeRetryWindow``: a rotated refresh token exists only in this process
    /// until it is committed, and giving up at the first failure would lose it (the next caller would be refused with
    /// `invalid_grant`). A write whose outcome was unknown and that did commit shows up as a conflict on the retry,
    /// and the re-read record then already holds the new tokens.
    func commit(
        _ account: Account,
        _ secrets: AccountSecrets,
        _ change: (inout Account, inout AccountSecrets) -> Void
    ) async throws -> Account {
        var base = (account: account, secrets: secrets)
        let clock = ContinuousClock()
        let deadline = clock.now + Self.storeRetryWindow
        var pause = Duration.milliseconds(100)
        var conflicts = 0
        while true {
            var updated = base.account
            var newSecrets = base.secrets
            change(&updated, &newSecrets)
            do {
                return try await vault.updateAccount(
                    updated,
                    secrets: newSecrets,
                    expectedGeneration: base.account.generation
                )
            } catch let error as VaultError where error.code == .conflict && conflicts < 2 {
                conflicts += 1
                logger.notice("account changed under its lock; re-reading", metadata: ["account": "\(account.name)"])
                base = try await reread(account.name, until: deadline)
            } catch let error as VaultError where error.code == .unavailable && clock.now + pause < deadline {
                logger.warning(
                    "the vault's store is unreachable while a token is being stored; retrying",
                    metadata: ["account": "\(account.name)", "error": "\(error.message)"]
                )
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            } catch let error as VaultError where error.code == .conflict {
                logger.notice("account kept changing under its lock", metadata: ["error": "\(error.message)"])
                break
            }
        }
        throw VaultError.keptChanging(account.name, while: "its tokens were being stored")
    }

    /// How long storing a token keeps retrying a store that is unreachable.
    static let storeRetryWindow = Duration.seconds(30)

    /// Re-reads an account, retrying an unreachable store until `deadline`.
    private func reread(
        _ name: AccountName,
        until deadline: ContinuousClock.Instant
    ) async throws -> (
        account: Account, secrets: AccountSecrets
    ) {
        var pause = Duration.milliseconds(100)
        while true {
            do {
                return try await vault.openAccount(named: name)
            } catch let error as VaultError where error.code == .unavailable && ContinuousClock.now + pause < deadline {
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .seconds(2))
            }
        }
    }
}
