package import Foundation

/// What every store's ``CredentialStore/claimSingleUse(_:expiresAt:)`` shares: the checks on its arguments and the
/// size of the batch of expired claims each call prunes.
package enum SingleUseClaims {
    /// At most this many expired claims (other than the one claimed) are deleted by one claim, oldest first: the
    /// table stays small without any one call doing unbounded work.
    package static let pruneBatch = 100

    /// The longest key a store accepts, in bytes (the vault's are 32-byte hashes).
    package static let maximumKeyLength = 1024

    /// `expiresAt` in seconds since 1970, after checking the key (1 to ``maximumKeyLength`` bytes) and the date
    /// (finite). Throws ``VaultError/Code/invalidInput`` otherwise.
    package static func checked(_ key: [UInt8], expiresAt: Date) throws(VaultError) -> Double {
        guard (1...maximumKeyLength).contains(key.count) else {
            throw .invalid("a single-use key is 1 to \(maximumKeyLength) bytes")
        }
        let seconds = expiresAt.timeIntervalSince1970
        guard seconds.isFinite else { throw .invalid("a single-use claim needs a finite expiry") }
        return seconds
    }
}
