/// What ``CredentialVault/verify()`` found: every problem, and how many rows it checked.
public struct VerificationReport: Sendable {
    /// One problem.
    public struct Problem: Sendable, CustomStringConvertible {
        /// The account concerned, if any.
        public var account: AccountName?
        /// What is wrong.
        public var message: String
        /// The kind of problem: ``VaultError/Code/unsafePermissions`` for permissions, else mostly
        /// ``VaultError/Code/integrityFailure``.
        public var code: VaultError.Code = .integrityFailure
        /// `account: message` or just the message.
        public var description: String { account.map { "\($0): \(message)" } ?? message }
    }

    /// Every problem found; empty when the vault is sound.
    public var problems: [Problem]
    /// Things worth knowing that do not make the vault unsound (a vault opened away from its recorded location).
    public var warnings: [String] = []
    /// The account rows checked, damaged ones included.
    public var accountCount: Int
    /// The key slot rows checked, damaged ones included.
    public var slotCount: Int

    /// Whether no problem was found.
    public var isSound: Bool { problems.isEmpty }
}
