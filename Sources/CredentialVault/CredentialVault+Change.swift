import Foundation
import Logging

// Changing an account in place: one compare-and-swap write under the account's lock.
extension CredentialVault {
    /// Applies `change` to account `name` under its lock (so no refresh is in flight, and none starts meanwhile):
    /// the record is opened (authenticated), changed, sealed again — its metadata re-authenticated — and written by
    /// compare-and-swap on the generation just read.
    ///
    /// The stored access token is dropped, so the next token is obtained with the new settings (and proves them).
    /// The failure state is reset: no backoff, no failure count; a new refresh token also clears `reauth-required`
    /// and the last error (the merchant's new authorization is what that status waited for).
    /// - Throws: ``VaultError/Code/notFound``; ``VaultError/Code/invalidInput`` for an empty change, an empty client
    ///   id or secret, or a refresh token for an account that is not `refresh-token`;
    ///   ``VaultError/Code/lockTimeout``; ``VaultError/Code/integrityFailure`` for a record that fails its check.
    @discardableResult
    public func changeAccount(
        named name: AccountName,
        _ change: AccountChange,
        lockTimeout: Duration = .seconds(60)
    ) async throws -> Account {
        guard !change.isEmpty else { throw VaultError.invalid("nothing to change") }
        if let clientID = change.clientID, clientID.isEmpty || clientID.contains(where: \.isNewline) {
            throw VaultError.invalid("the client id is empty or malformed")
        }
        if let secret = change.clientSecret, secret.count == 0 {
            throw VaultError.invalid("the client secret is empty")
        }
        if let token = change.refreshToken, token.count == 0 { throw VaultError.invalid("the refresh token is empty") }
        return try await withAccountLock(name, timeout: lockTimeout) {
            // A data-key rotation by another process between the read and the write: read again with the new key.
            for attempt in 1...3 {
                var (account, secrets) = try await openAccount(named: name)
                if change.refreshToken != nil && account.mode != .refreshToken {
                    throw VaultError.invalid(
                        "'\(name)' is a \(account.mode.rawValue) account: a refresh token belongs to refresh-token "
                            + "accounts"
                    )
                }
                let expected = account.generation
                if let clientID = change.clientID { account.clientID = clientID }
                if let tokenURL = change.tokenURL { account.tokenURL = tokenURL }
                if let scopes = change.scopes { account.scopes = scopes.isEmpty ? nil : scopes }
                if let secret = change.clientSecret { secrets.clientSecret = secret }
                if let token = change.refreshToken {
                    secrets.refreshToken = token
                    account.status = .ok
                }
                if account.status == .ok { account.lastError = nil }
                secrets.accessToken = nil
                account.accessTokenExpiresAt = nil
                account.nextAttemptAt = nil
                account.consecutiveFailures = 0
                do {
                    let stored = try await updateAccount(account, secrets: secrets, expectedGeneration: expected)
                    logger.info("account changed", metadata: ["account": "\(name)"])
                    return stored
                } catch let error as VaultError where error.code == .conflict && attempt < 3 {
                    continue  // updateAccount loaded a rotated data key; the lock keeps every other writer out
                }
            }
            throw VaultError(.conflict, "'\(name)' kept changing under its lock; try again")
        }
    }
}
