import ArgumentParser
import CredentialVault
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
    static let temporary: Int32 = 75
    static let badResponse: Int32 = 76
    static let unlockFailed: Int32 = 77
    static let configuration: Int32 = 78
    static let reauthRequired: Int32 = 80
    static let clientAuthFailed: Int32 = 81

    /// Maps any error thrown by a command to a ``CLIError``.
    static func cliError(for error: any Error) -> CLIError {
        switch error {
        case let error as CLIError:
            return error
        case let error as VaultError:
            return CLIError(exitCode: exitCode(for: error.code), kind: error.code.description, message: error.message)
        case let error as OAuthError:
            return CLIError(exitCode: exitCode(for: error.code), kind: error.code.description, message: error.message)
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
        default: failure
        }
    }
}
