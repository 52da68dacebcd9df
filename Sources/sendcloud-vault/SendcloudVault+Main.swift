import ArgumentParser
import CredentialVault

extension SendcloudVault {
    /// Parses the command line, runs the command, and reports a failure (``ErrorReporting``).
    static func main() async {
        ProcessHardening.apply()
        let arguments = Array(CommandLine.arguments.dropFirst())
        let reporting = ErrorReporting(json: arguments.prefix(while: { $0 != "--" }).contains("--json"))
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
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
