/// An account to import into a vault (``CredentialVault/importAccounts(_:replace:lockTimeout:)``): its metadata as
/// it should be stored — status, errors, timestamps, backoff and generation included — and its secrets in clear,
/// which the importing vault seals under its own data key.
public struct ImportedAccount: Sendable {
    /// The metadata to store (``Account/storedFields`` is recomputed from `secrets`).
    public var account: Account
    /// The secrets to seal; the client secret is required, as for ``CredentialVault/addAccount(_:secrets:)``.
    public var secrets: AccountSecrets

    /// Creates an entry.
    public init(account: Account, secrets: AccountSecrets) {
        self.account = account
        self.secrets = secrets
    }
}
