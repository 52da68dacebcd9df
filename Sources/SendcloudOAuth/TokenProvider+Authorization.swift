public import CredentialVault
import Foundation

extension TokenProvider {
    /// Exchanges an authorization code (with its PKCE verifier) and stores the tokens: a new `refresh-token`
    /// account from `account`, or — when `name` exists and `mayReplace` — the existing account re-authorized
    /// (status back to `ok`, new client secret and tokens). Without `mayReplace`, an existing account is refused
    /// with ``VaultError/Code/alreadyExists`` (checked under the account lock, before the code is spent).
    /// Returns the stored metadata.
    public func authorize(
        _ account: Account,
        clientSecret: SecureBytes,
        code: SecureBytes,
        redirectURI: String,
        codeVerifier: SecureBytes?,
        mayReplace: Bool = true
    ) async throws -> Account {
        try TokenURLPolicy.validate(account.tokenURL)
        return try await vault.withAccountLock(account.name, timeout: configuration.lockTimeout) {
            let existing = try await vault.accountForReplacement(named: account.name)
            if existing != nil && !mayReplace {
                throw VaultError.alreadyExists(account.name)
            }
            let response = try await client.requestToken(
                .authorizationCode(code: code, redirectURI: redirectURI, codeVerifier: codeVerifier),
                tokenURL: account.tokenURL,
                clientID: account.clientID,
                clientSecret: clientSecret
            )
            var updated = account
            updated.mode = .refreshToken
            updated.accessTokenExpiresAt = response.expiresAt
            updated.refreshedAt = response.receivedAt
            updated.status = .ok
            updated.lastError = nil
            if updated.scopes == nil { updated.scopes = response.scope }
            let secrets = AccountSecrets(
                clientSecret: clientSecret,
                refreshToken: response.refreshToken,
                accessToken: response.accessToken
            )
            if let existing {
                return try await commit(existing, AccountSecrets()) { stored, storedSecrets in
                    let createdAt = stored.createdAt
                    stored = updated
                    stored.createdAt = createdAt
                    storedSecrets = secrets
                }
            }
            return try await vault.addAccount(updated, secrets: secrets)
        }
    }
}
