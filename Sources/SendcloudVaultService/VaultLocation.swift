public import CredentialVault
public import CredentialVaultPostgres
import CredentialVaultSQLite
import Foundation
public import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a vault is: a SQLite file path, or a PostgreSQL URL (`postgres://` / `postgresql://`, DESIGN §4) — what the
/// CLI's `--vault` and `SENDCLOUD_VAULT` take, parsed the same way for an embedder.
///
/// Any other `scheme://` location is refused (``VaultError/Code/invalidInput``) before anything is touched: a typo or
/// an unsupported database must not turn into a local file under a folder named `mysql:`.
public enum VaultLocation: Sendable, CustomStringConvertible {
    /// A SQLite vault file.
    case file(String)
    /// A vault in PostgreSQL.
    case postgres(PostgresLocation)

    /// `SENDCLOUD_VAULT`: the vault's location when none is given.
    public static let environmentVariable = "SENDCLOUD_VAULT"

    /// The location the CLI uses when none is given: `SENDCLOUD_VAULT`, else
    /// `$XDG_DATA_HOME/sendcloud-vault/vault.sqlite`, else `~/.local/share/sendcloud-vault/vault.sqlite`.
    /// `environment` defaults to those three variables, read one by one (not a copy of the whole environment, which
    /// would hold `SENDCLOUD_VAULT_KEY` or `SENDCLOUD_VAULT_PASSPHRASE` in strings).
    public static func environmentText(_ environment: [String: String] = locationVariables()) -> String {
        if let given = environment[environmentVariable], !given.isEmpty { return given }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.local/share"
        return dataHome + "/sendcloud-vault/vault.sqlite"
    }

    /// The location given by the environment (``environmentText(_:)``), classified.
    public static func fromEnvironment(
        _ environment: [String: String] = locationVariables()
    ) throws(VaultError) -> VaultLocation {
        try VaultLocation(environmentText(environment))
    }

    /// `SENDCLOUD_VAULT`, `XDG_DATA_HOME` and `HOME` from the process's environment, where set.
    public static func locationVariables() -> [String: String] {
        var variables: [String: String] = [:]
        for name in [environmentVariable, "XDG_DATA_HOME", "HOME"] {
            if let pointer = getenv(name) { variables[name] = String(cString: pointer) }
        }
        return variables
    }

    /// Classifies `text`.
    /// - Throws: ``VaultError/Code/invalidInput`` for an unknown URL scheme, a malformed PostgreSQL URL or one holding
    ///   a password.
    public init(_ text: String) throws(VaultError) {
        if PostgresLocation.isPostgresURL(text) {
            self = .postgres(try PostgresLocation(url: text))
        } else if PostgresLocation.hasURLScheme(text), let separator = text.range(of: "://") {
            let scheme = text[..<separator.lowerBound].prefix(20)
            throw VaultError(
                .invalidInput,
                "unknown vault location scheme '\(scheme)://': give a file path or a postgres:// URL"
            )
        } else {
            self = .file(text)
        }
    }

    /// The location as messages name it (no password: a URL never holds one).
    public var description: String {
        switch self {
        case .file(let path): path
        case .postgres(let location): location.description
        }
    }

    /// Opens the store. `create`: make the file (SQLite) or the schema and tables (PostgreSQL) if missing. The
    /// PostgreSQL password comes from ``PostgresPassword/resolve(for:)`` (its file and environment sources). Close a
    /// PostgreSQL store (`close()`) when done, or run it in a `ServiceGroup`; ``VaultService`` does either for you.
    public func openStore(create: Bool = false, logger: Logger) async throws -> any CredentialStore {
        switch self {
        case .file(let path):
            return try SQLiteCredentialStore(path: path, create: create)
        case .postgres(let location):
            let password = try PostgresPassword.resolve(for: location)
            return try await PostgresCredentialStore.connect(
                to: location,
                password: password,
                create: create,
                logger: logger
            )
        }
    }
}
