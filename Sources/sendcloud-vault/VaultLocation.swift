import CredentialVault
import CredentialVaultPostgres
import CredentialVaultSQLite
import Foundation
import Logging

/// Where the vault is: a SQLite file path, or a PostgreSQL URL (`postgres://` / `postgresql://`, DESIGN §4).
///
/// Any other `scheme://` location is refused (64) before anything is touched: a typo or an unsupported database must
/// not turn into a local file under a folder named `mysql:`.
enum VaultLocation {
    case file(String)
    case postgres(PostgresLocation)

    /// Classifies `text`.
    /// - Throws: ``CLIError`` 64 for an unknown URL scheme; ``VaultError/Code/invalidInput`` (64) for a malformed
    ///   PostgreSQL URL or one holding a password.
    init(_ text: String) throws {
        if PostgresLocation.isPostgresURL(text) {
            self = .postgres(try PostgresLocation(url: text))
        } else if PostgresLocation.hasURLScheme(text) {
            let scheme = text[..<text.range(of: "://")!.lowerBound].prefix(20)
            throw CLIError.usage(
                "unknown vault location scheme '\(scheme)://': give a file path or a postgres:// URL"
            )
        } else {
            self = .file(text)
        }
    }

    /// The location as messages name it (no password: a URL never holds one).
    var description: String {
        switch self {
        case .file(let path): path
        case .postgres(let location): location.description
        }
    }

    /// Opens the store. `create`: make the file (SQLite) or the schema and tables (PostgreSQL) if missing.
    func openStore(create: Bool, logger: Logger) async throws -> any CredentialStore {
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
