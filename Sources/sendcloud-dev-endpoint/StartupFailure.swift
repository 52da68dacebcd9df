/// Why the endpoint could not start serving: the message for stderr and the exit code (sysexits).
struct StartupFailure: Error {
    /// One line, without the program name; never a secret.
    var message: String
    /// 65 bad data, 66 no such file, 73 cannot create, 74 I/O error, 78 configuration (permissions).
    var exitCode: Int32
}
