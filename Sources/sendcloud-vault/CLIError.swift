/// An error the CLI reports: an exit code from DESIGN §6, a short kind and a message free of secrets.
struct CLIError: Error, CustomStringConvertible {
    var exitCode: Int32
    var kind: String
    var message: String
    /// The library's full message, when ``message`` is a shorter one written for the operator.
    var detail: String?

    init(exitCode: Int32, kind: String, message: String, detail: String? = nil) {
        self.exitCode = exitCode
        self.kind = kind
        self.message = message
        self.detail = detail
    }

    var description: String { message }

    static func usage(_ message: String) -> CLIError {
        CLIError(exitCode: ExitStatus.usage, kind: "usage", message: message)
    }
    static func configuration(_ message: String) -> CLIError {
        CLIError(exitCode: ExitStatus.configuration, kind: "configuration", message: message)
    }
    static func failure(_ message: String) -> CLIError {
        CLIError(exitCode: ExitStatus.failure, kind: "failure", message: message)
    }
}
