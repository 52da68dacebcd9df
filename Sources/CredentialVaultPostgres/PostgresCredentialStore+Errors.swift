import CredentialVault
import NIOCore
import NIOSSL
import PostgresNIO

// The one place where postgres-nio's and NIO's errors become VaultErrors. Messages name the server (host:port) and
// the SQLSTATE with the server's message, never a query's arguments; the original error is kept as `underlying`.
extension PostgresCredentialStore {
    func mapped(_ error: any Error) -> any Error { Self.mapped(error, location) }

    static func mapped(_ error: any Error, _ location: PostgresLocation) -> any Error {
        switch error {
        case is VaultError, is CancellationError:
            return error
        case let error as PSQLError:
            return mapped(error, location)
        case let error as ConnectionLost:
            return unreachable(location, error.reason, underlying: error)
        case let error as PostgresDecodingError:
            return VaultError(
                .integrityFailure,
                "column \(error.columnName.prefix(64)) of the vault's tables holds a value of an unexpected type",
                underlying: error
            )
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            return VaultError(
                .accessDenied,
                "TLS with the database at \(location.endpoint) failed (sslmode=\(location.tlsMode.rawValue)): "
                    + "\(String(describing: error).prefix(200))",
                underlying: error
            )
        default:
            // Connection refused, timeouts, resolution failures: NIO's errors, which name no secret.
            return unreachable(location, String(describing: error).prefix(200), underlying: error)
        }
    }

    static func unreachable(
        _ location: PostgresLocation,
        _ reason: some StringProtocol,
        underlying: (any Error)? = nil
    ) -> VaultError {
        VaultError(
            .unavailable,
            "the database at \(location.endpoint) is unreachable (\(reason))",
            underlying: underlying
        )
    }

    /// The SQLSTATE of a server error, if it is one.
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    private static func mapped(_ error: PSQLError, _ location: PostgresLocation) -> VaultError {
        if let underlying = error.underlying,
            underlying is NIOSSLError || underlying is BoringSSLError || underlying is NIOSSLExtraError
        {
            return mapped(underlying, location) as? VaultError ?? unreachable(location, "TLS", underlying: error)
        }
        guard error.code == .server, let info = error.serverInfo else {
            switch error.code {
            case .sslUnsupported:
                return VaultError(
                    .accessDenied,
                    "the database at \(location.endpoint) does not offer TLS, and sslmode=\(location.tlsMode.rawValue)",
                    underlying: error
                )
            case .authMechanismRequiresPassword:
                return VaultError(
                    .accessDenied,
                    "the database at \(location.endpoint) asks user \(location.user) for a password and none was "
                        + "found (\(PostgresPassword.fileVariable), PGPASSWORD, PGPASSFILE or ~/.pgpass)",
                    underlying: error
                )
            case .saslError, .unsupportedAuthMechanism:
                return VaultError(
                    .accessDenied,
                    "the database at \(location.endpoint) could not authenticate user \(location.user) "
                        + "(\(error.code))",
                    underlying: error
                )
            default:
                let reason = error.underlying.map { String(describing: $0).prefix(160) } ?? "\(error.code)"
                return unreachable(location, reason, underlying: error)
            }
        }
        let state = info[.sqlState] ?? "?????"
        let message = "PostgreSQL \(state) at \(location.endpoint): \((info[.message] ?? "no message").prefix(300))"
        switch state {
        case "28P01", "28000", "42501":
            return VaultError(.accessDenied, message, underlying: error)
        case "40001", "40P01":
            return VaultError(.conflict, message + "; run the command again", underlying: error)
        case "3D000":
            return VaultError(.noVault, message + " (create the database first: createdb)", underlying: error)
        // Shutting down, starting up, too many connections, out of resources, a read-only standby after a failover.
        case "57P01", "57P02", "57P03", "53100", "53200", "53300", "53400", "55P03", "25006":
            return VaultError(.unavailable, message, underlying: error)
        case "57014":
            return VaultError(.unavailable, message + " (statement timeout)", underlying: error)
        default:
            if state.hasPrefix("08") { return VaultError(.unavailable, message, underlying: error) }
            if state.hasPrefix("22") || state.hasPrefix("23") || state.hasPrefix("42") {
                // A value or the schema is not what this store wrote: a tampered or altered table.
                return VaultError(.integrityFailure, message, underlying: error)
            }
            return VaultError(.storage, message, underlying: error)
        }
    }

    /// A COMMIT that failed: a serialization failure is a conflict (nothing was written); a lost connection leaves the
    /// outcome unknown, and the message says so.
    static func commitFailed(_ error: any Error, _ location: PostgresLocation) -> any Error {
        let mapped = mapped(error, location)
        guard let vaultError = mapped as? VaultError, vaultError.code == .unavailable else { return mapped }
        return VaultError(
            .unavailable,
            vaultError.message + "; the connection was lost at COMMIT, so the change may or may not be stored",
            underlying: error
        )
    }
}
