public import CredentialVault

/// How the conformance suite gets stores of one implementation.
public struct StoreFactory: Sendable {
    /// The implementation's name, for test output.
    public var name: String
    /// A new, empty store.
    public var makeStore: @Sendable () async throws -> any CredentialStore
    /// A second handle on the same storage as `store` (SQLite: another store object on the same file; in memory: the
    /// same object): locks and data must be shared through it.
    public var sameStorage: @Sendable (_ store: any CredentialStore) async throws -> any CredentialStore
    /// Writes one column of an account row behind the store's back, as an attacker who can write the storage would.
    public var tamper:
        @Sendable (_ store: any CredentialStore, _ name: AccountName, _ column: AccountColumn, _ value: StoreValue)
            async throws -> Void

    /// Creates a factory.
    public init(
        name: String,
        makeStore: @escaping @Sendable () async throws -> any CredentialStore,
        sameStorage: @escaping @Sendable (_ store: any CredentialStore) async throws -> any CredentialStore,
        tamper: @escaping @Sendable (any CredentialStore, AccountName, AccountColumn, StoreValue) async throws -> Void
    ) {
        self.name = name
        self.makeStore = makeStore
        self.sameStorage = sameStorage
        self.tamper = tamper
    }
}
