import ArgumentParser
import CredentialVault
import Foundation
import SendcloudOAuth

@main
struct SendcloudVault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sendcloud-vault",
        abstract: "Sealed storage for Sendcloud API credentials and OAuth tokens.",
        discussion: """
            Secrets never come from a flag's value: they come from a file (--X-file PATH, '-' for stdin), an \
            environment variable, or a no-echo prompt on a terminal.

            Unlocking, first match wins: --key-file / SENDCLOUD_VAULT_KEY_FILE, SENDCLOUD_VAULT_KEY (base64), \
            --passphrase-file / SENDCLOUD_VAULT_PASSPHRASE_FILE, SENDCLOUD_VAULT_PASSPHRASE, then a prompt.
            """,
        version: "0.1.0",
        subcommands: [
            Init.self, Add.self, Login.self, Token.self, Refresh.self, Show.self, List.self, Remove.self, Verify.self,
            Passwd.self, Key.self, RotateKey.self,
        ]
    )

    static func main() async {
        ProcessHardening.apply()
        let arguments = Array(CommandLine.arguments.dropFirst())
        let wantsJSON = arguments.prefix(while: { $0 != "--" }).contains("--json")
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            // Argument-parser's own outcomes: help, version, usage errors (64).
            let code = exitCode(for: error).rawValue
            if wantsJSON && code != 0 {
                report(CLIError(exitCode: code, kind: "usage", message: fullMessage(for: error)), json: true)
            }
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            // Help and version (run as commands), validation in run(): argument-parser's handling (64 for usage).
            if wantsJSON && exitCode(for: error).rawValue != 0 {
                report(ExitStatus.cliError(for: error), json: true)
            }
            exit(withError: error)
        } catch {
            report(ExitStatus.cliError(for: error), json: wantsJSON)
        }
    }

    private static func report(_ error: CLIError, json: Bool) -> Never {
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
