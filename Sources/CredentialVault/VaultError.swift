/// The one error type of `CredentialVault` and its stores.
///
/// Compare ``code`` to the static members (`error.code == .integrityFailure`). The ``message`` is written for an
/// operator and never contains a secret, a key or a raw server body. The error that caused it, if any (a
/// database error, say), is kept in ``underlying`` and shown only by ``debugDescription`` (`String(reflecting:)`),
/// as postgres-nio's `PSQLError` does: what an underlying library prints is not ours to vouch for.
public struct VaultError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong, as a closed set that callers can switch on through equality.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case wrongKey = "wrong-key"
            case integrityFailure = "integrity-failure"
            case notFound = "not-found"
            case noVault = "no-vault"
            case alreadyExists = "already-exists"
            case vaultExists = "vault-exists"
            case unsafePermissions = "unsafe-permissions"
            case invalidInput = "invalid-input"
            case conflict = "conflict"
            case lockTimeout = "lock-timeout"
            case storage = "storage"
            case unavailable = "unavailable"
            case accessDenied = "access-denied"
            case secretCommandFailed = "secret-command-failed"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The passphrase or key opens no key slot.
        public static let wrongKey = Code(.wrongKey)
        /// A sealed value, a key slot or the vault file is corrupt or was tampered with.
        public static let integrityFailure = Code(.integrityFailure)
        /// No account of that name.
        public static let notFound = Code(.notFound)
        /// No vault at the given location.
        public static let noVault = Code(.noVault)
        /// An account of that name exists already.
        public static let alreadyExists = Code(.alreadyExists)
        /// A vault exists already where one was to be created.
        public static let vaultExists = Code(.vaultExists)
        /// A vault or key file is readable or writable by group or others.
        public static let unsafePermissions = Code(.unsafePermissions)
        /// An argument is malformed (account name, mode, KDF limits asked for, ...).
        public static let invalidInput = Code(.invalidInput)
        /// A compare-and-swap write lost: the account changed since it was read.
        public static let conflict = Code(.conflict)
        /// A lock could not be taken within its timeout.
        public static let lockTimeout = Code(.lockTimeout)
        /// The storage failed (I/O, database error).
        public static let storage = Code(.storage)
        /// A database server could not be reached (refused, timed out, restarting, the connection dropped): the
        /// operation may succeed when retried.
        public static let unavailable = Code(.unavailable)
        /// A database server refused the credentials or the role lacks a privilege: a configuration problem.
        public static let accessDenied = Code(.accessDenied)
        /// A key or passphrase command (``SecretCommand``) failed: it exited non-zero, died of a signal, printed
        /// nothing or too much, or timed out.
        public static let secretCommandFailed = Code(.secretCommandFailed)

        /// A short kebab-case name (`wrong-key`, `integrity-failure`, ...).
        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// A human-readable explanation free of secrets.
    public let message: String
    /// The error that caused this one, if any; shown only by ``debugDescription``.
    public let underlying: (any Error)?

    /// Creates an error; `message` must not contain secrets. Stores throw these with the codes the
    /// ``CredentialStore`` contract names; callers of the vault only receive them.
    public init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }

    /// `code: message`, then the underlying error as it describes itself to a debugger.
    public var debugDescription: String {
        guard let underlying else { return "VaultError(\(description))" }
        return "VaultError(\(description); underlying: \(String(reflecting: underlying)))"
    }

    static func wrongKey(_ message: String = "the passphrase or key does not open this vault") -> VaultError {
        VaultError(.wrongKey, message)
    }
    static func integrity(_ message: String) -> VaultError { VaultError(.integrityFailure, message) }
    static func invalid(_ message: String) -> VaultError { VaultError(.invalidInput, message) }
    /// An account of that name exists already.
    package static func alreadyExists(_ name: AccountName) -> VaultError {
        VaultError(.alreadyExists, "an account named '\(name)' exists already")
    }
    /// The account holds no client secret (every mode needs it).
    package static func noClientSecret(_ name: AccountName) -> VaultError {
        VaultError(.integrityFailure, "account '\(name)' has no client secret")
    }
    /// The account kept changing under a writer's compare-and-swap.
    package static func keptChanging(_ name: AccountName, while doing: String) -> VaultError {
        VaultError(.conflict, "account '\(name)' kept changing while \(doing)")
    }
    static func notFound(_ name: AccountName) -> VaultError {
        VaultError(.notFound, "no account named '\(name)'")
    }
}
