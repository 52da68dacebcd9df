import Foundation
import Logging

// The per-account lock, offered by the vault so that callers (the OAuth layer, the CLI) never reach into the store.
extension CredentialVault {
    /// Runs `body` holding account `name`'s lock (``CredentialStore/withAccountLock(_:timeout:isolation:_:)``):
    /// exclusive across tasks, processes and — with a shared store — hosts; other accounts are not blocked. `body`
    /// may use the vault freely. Throws ``VaultError/Code/lockTimeout`` if the lock is not obtained within `timeout`.
    public func withAccountLock<T: Sendable>(
        _ name: AccountName,
        timeout: Duration,
        _ body: () async throws -> T,
        isolation: isolated (any Actor)? = #isolation
    ) async throws -> T {
        try await store.withAccountLock(name, timeout: timeout, isolation: isolation, body)
    }

    /// The metadata of `name` as stored, *not authenticated*, or `nil` if there is no such account: for a writer that
    /// replaces the whole record (re-authorization keeps only its generation, for the compare-and-swap, and its
    /// creation date), so that a damaged record can still be replaced by logging in again. Throws
    /// ``VaultError/Code/integrityFailure`` only for a row that cannot be decoded at all.
    public func accountForReplacement(named name: AccountName) async throws -> Account? {
        try await store.account(named: name)?.account
    }
}
