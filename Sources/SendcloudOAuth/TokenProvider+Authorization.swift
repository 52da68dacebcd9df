public import CredentialVault
import Foundation

extension TokenProvider {
    /// Exchanges an authorization code (with its PKCE verifier) and stores the tokens: a new `refresh-token`
    /// account from `account`, or — when `name` exists and `mayReplace` (default false) — the existing account re-authorized
    /// (status back to `ok`, new client secret and tokens). Without `mayReplace`, an existing account is refused
    /// with ``VaultError/Code/alreadyExists`` (checked under the account lock, before the code is spent).
    /// Returns the stored metadata; publishes ``AccountEvent/Kind/reauthorized`` (an existing account) or
    /// ``AccountEvent/Kind/authorized`` (a new one).
    public func authorize(
        _ account: Account,
        clientSecret: SecureBytes,
        code: SecureBytes,
        redirectURI: String,
        codeVerifier: SecureBytes?,
        mayReplace: Bool = false
    ) async throws -> Account {
        try TokenURLPolicy.validate(account.tokenURL)
        let grant = Grant.authorizationCode(code: code, redirectURI: redirectURI, codeVerifier: codeVerifier)
        return try await withMeasuredLock(account.name) {
            let existing = try await vault.accountForReplacement(named: account.name)
            if existing != nil && !mayReplace {
                throw VaultError.alreadyExists(account.name)
            }
            let response = try await requestToken(grant, for: account, clientSecret: clientSecret)
            guard response.refreshToken != nil else {
                // A refresh-token account without one would need re-authorization within the hour.
                throw OAuthError(
                    .authorizationFailed,
                    "the server answered without a refresh token: authorize with the offline_access scope; "
                        + "nothing was stored"
                )
            }
            var updated = account
            updated.mode = .refreshToken
            updated.accessTokenExpiresAt = response.expiresAt
            updated.refreshedAt = response.receivedAt
            updated.status = .ok
            updated.lastError = nil
            updated.consecutiveFailures = 0
            updated.nextAttemptAt = nil
            if updated.scopes == nil { updated.scopes = response.scope }
            let secrets = AccountSecrets(
                clientSecret: clientSecret,
                refreshToken: response.refreshToken,
                accessToken: response.accessToken
            )
            let stored: Account
            if let existing {
                stored = try await commit(existing, AccountSecrets()) { stored, storedSecrets in
                    let createdAt = stored.createdAt
                    stored = updated
                    stored.createdAt = createdAt
                    storedSecrets = secrets
                }
            } else {
                stored = try await vault.addAccount(updated, secrets: secrets)
            }
            cache.remove(account.name)  // the replaced grant's token, whatever its expiry
            cache.store(
                AccessToken(
                    account: account.name,
                    value: response.accessToken,
                    expiresAt: stored.accessTokenExpiresAt,
                    obtainedFromServer: true,
                    obtainedAt: response.receivedAt
                )
            )
            publish(account.name, existing == nil ? .authorized : .reauthorized)
            return stored
        }
    }
}
