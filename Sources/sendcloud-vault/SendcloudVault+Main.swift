import ArgumentParser
import CredentialVault

extension SendcloudVault {
    /// Parses the command line, runs the command, and reports a failure (``ErrorReporting``).
    static func main() async {
        ProcessHardening.apply()
        let arguments = Array(CommandLine.arguments.dropFirst())
        let reporting = ErrorReporting(json: arguments.prefix(while: { $0 != "--" }).contains("--json"))
        if let message = UsageHints.secretFlagMessage(arguments) {
            reporting.report(CLIError.usage(message))
        }
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            let commands = configuration.subcommands.map { $0.configuration.commandName ?? "\($0)".lowercased() }
            if let message = UsageHints.unknownCommandMessage(arguments, commands: commands) {
                reporting.report(CLIError.usage(message))
            }
            reporting.parseFailed(error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            reporting.runFailed(error)
        }
    }
}
