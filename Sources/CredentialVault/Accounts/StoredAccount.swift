import Foundation

/// An account as a store keeps it: metadata in clear, secrets sealed. Stores never see plaintext secrets.
public struct StoredAccount: Sendable, Equatable {
    /// The bound of generations (2^62): far beyond any real count of writes, and far enough from `Int64.max` that
    /// incrementing never overflows. A row outside `1..<maximumGeneration` is malformed, so that every decoded
    /// record can be written once more.
    public static let maximumGeneration: Int64 = 1 << 62

    /// The metadata columns (``Account/storedFields`` is derived from ``sealed``).
    public var account: Account
    /// The data key that sealed the values.
    public var keyID: UInt32
    /// The sealed values by field.
    public var sealed: [SecretField: SealedValue]

    /// Creates a stored record.
    public init(account: Account, keyID: UInt32, sealed: [SecretField: SealedValue]) {
        self.account = account
        self.keyID = keyID
        self.sealed = sealed
        self.account.storedFields = Set(sealed.keys)
    }
}
