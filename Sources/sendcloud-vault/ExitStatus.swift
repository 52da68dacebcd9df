import ArgumentParser
import CredentialVault
import Foundation
import SendcloudOAuth

/// The exit codes of DESIGN §6, and the one place that maps library errors to them.
enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 64
    static let integrity: Int32 = 65
    static let noInput: Int32 = 66
    static let unavailable: Int32 = 69
    static let cannotCreate: Int32 = 73
    static let ioError: Int32 = 74
    static let temporary: Int32 = 75
    static let badResponse: Int32 = 76
    static let unlockFailed: Int32 = 77
    static let configuration: Int32 = 78
    static let reauthRequired: Int32 = 80
    static let clientAuthFailed: Int32 = 81
    static let requestRejected: Int32 = 82

    /// Every exit code and what it means: the root `--help` prints this table, and README's copy is checked against
    /// it by a test.
    static let table: [(code: Int32, meaning: String)] = [
        (success, "success"),
        (failure, "other failure (a browser login that failed: state mismatch, error redirect, timeout)"),
        (usage, "usage error: unknown option, missing argument, a value out of range"),
        (integrity, "integrity failure: a record, the vault or a backup file is corrupt or tampered with"),
        (
            noInput,
            "no such account, no vault at the path, or an input file (key, passphrase, secret, backup) that does not exist"
        ),
        (unavailable, "token endpoint unreachable after retries (refresh --all stops early and reports the rest)"),
        (cannotCreate, "exists already: a vault, an account name, a file that would be overwritten"),
        (ioError, "a file or the database could not be read or written"),
        (temporary, "temporary: rate-limited or server error after retries, lock wait timed out, database unreachable"),
        (badResponse, "the token endpoint answered 2xx with an unusable body (not retried: the grant may be used)"),
        (unlockFailed, "unlock failed: the key or passphrase does not open the vault, or a key command failed"),
        (configuration, "configuration: no unlock source without a terminal, insecure token URL, unsafe permissions"),
        (reauthRequired, "re-authorization required (invalid_grant): run 'sendcloud-vault login NAME'"),
        (clientAuthFailed, "client authentication failed (invalid_client): wrong or rotated client secret"),
        (requestRejected, "the token endpoint refused the request (invalid_scope, unsupported_grant_type, ...)"),
    ]

    /// ``table`` as the root help shows it.
    static var tableText: String {
        "Exit codes:\n"
            + table.map { entry in
                let code = String(entry.code)
                return "  " + code + String(repeating: " ", count: max(0, 4 - code.count)) + entry.meaning
            }
            .joined(separator: "\n")
    }

    /// Maps any error thrown by a command to a ``CLIError``; a token operation's failure on `account` gets the
    /// short message with the next step of ``FailureAdvice``.
    static func cliError(for error: any Error, account: AccountName? = nil) -> CLIError {
        switch error {
        case let error as CLIError:
            return error
        case let error as VaultError:
            return CLIError(exitCode: exitCode(for: error.code), kind: error.code.description, message: error.message)
        case let error as OAuthError:
            return CLIError(
                exitCode: exitCode(for: error.code),
                kind: error.code.description,
                message: FailureAdvice.message(for: error, account: account),
                detail: error.message
            )
        case let error as ValidationError:
            return CLIError(exitCode: usage, kind: "usage", message: error.message)
        case let error as ExitCode:
            return CLIError(exitCode: error.rawValue, kind: "failure", message: "exit \(error.rawValue)")
        case is CancellationError:
            return CLIError(exitCode: failure, kind: "cancelled", message: "cancelled")
        default:
            // Errors of the libraries below ours (HTTP client, NIO): their descriptions name no secrets.
            return CLIError(
                exitCode: failure,
                kind: "failure",
                message: "\(type(of: error)): \(String(describing: error).prefix(200))"
            )
        }
    }

    static func exitCode(for code: OAuthError.Code) -> Int32 {
        switch code {
        case .reauthorizationRequired: reauthRequired
        case .invalidClient: clientAuthFailed
        case .unreachable: unavailable
        case .serverError, .rateLimited: temporary
        case .invalidResponse: badResponse
        case .insecureTokenURL: configuration
        case .notSupported: usage
        case .requestRejected: requestRejected
        default: failure
        }
    }

    static func exitCode(for code: VaultError.Code) -> Int32 {
        switch code {
        case .wrongKey, .secretCommandFailed: unlockFailed
        case .integrityFailure: integrity
        case .notFound, .noVault: noInput
        case .alreadyExists, .vaultExists: cannotCreate
        case .unsafePermissions, .accessDenied: configuration
        case .invalidInput: usage
        case .conflict, .lockTimeout, .unavailable: temporary
        case .storage: ioError
        default: failure
        }
    }

    /// Runs `body`, a token operation on `account`: its failure is reported with ``FailureAdvice``.
    static func reporting<T>(account: AccountName, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as OAuthError {
            throw cliError(for: error, account: account)
        }
    }
}
