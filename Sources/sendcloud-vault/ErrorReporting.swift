import ArgumentParser
import CredentialVault
import Foundation
import SendcloudOAuth

/// How a failed invocation ends: the exit code of DESIGN §6 (``ExitStatus``) and the message on stderr, as text
/// or, with `--json`, as `{"error": {"code", "kind", "message"}}`.
///
/// argument-parser's own outcomes (help, version, usage errors) are left to argument-parser, which prints them
/// and exits with its code (64 for usage); with `--json` a failing one is reported as JSON first.
struct ErrorReporting {
    /// Whether `--json` was given.
    var json: Bool

    /// Parsing the command line failed, or asked for help or the version.
    func parseFailed(_ error: any Error) -> Never {
        let code = SendcloudVault.exitCode(for: error).rawValue
        if json && code != 0 {
            report(CLIError(exitCode: code, kind: "usage", message: SendcloudVault.fullMessage(for: error)))
        }
        SendcloudVault.exit(withError: error)
    }

    /// A command's `run()` threw.
    func runFailed(_ error: any Error) -> Never {
        guard Self.isArgumentParserOutcome(error) else { report(ExitStatus.cliError(for: error)) }
        // Help and version (run as commands), validation in run(): argument-parser's handling (64 for usage).
        if json && SendcloudVault.exitCode(for: error).rawValue != 0 {
            report(ExitStatus.cliError(for: error))
        }
        SendcloudVault.exit(withError: error)
    }

    /// Whether argument-parser should handle `error`: its public error types (`ValidationError`, `CleanExit`,
    /// `ExitCode`), or a clean exit it raises itself from a built-in command (the `help` subcommand's error type is
    /// not public; argument-parser maps every other error to a non-zero code).
    static func isArgumentParserOutcome(_ error: any Error) -> Bool {
        switch error {
        case is ValidationError, is CleanExit, is ExitCode:
            return true
        case is CLIError, is VaultError, is OAuthError, is CancellationError:
            return false
        default:
            return SendcloudVault.exitCode(for: error) == .success
        }
    }

    /// Prints `error` on stderr (text or JSON) and exits with its code.
    func report(_ error: CLIError) -> Never {
        if json {
            let object: [String: Any] = [
                "error": ["code": Int(error.exitCode), "kind": error.kind, "message": error.message]
            ]
            FileHandle.standardError.write(Output.jsonData(object) + Data("\n".utf8))
        } else {
            Output.stderr("sendcloud-vault: error: \(Output.inert(error.message))")
        }
        Foundation.exit(error.exitCode)
    }
}
