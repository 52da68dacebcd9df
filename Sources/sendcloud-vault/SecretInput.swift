import CredentialVault

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The terminal and its settings while a no-echo prompt runs, for the SIGINT handler (which may only touch
/// globals). Set and cleared on the main path only.
nonisolated(unsafe) private var promptTerminal: (fd: Int32, state: termios)?

/// Reads secrets from files, standard input, the environment or a no-echo prompt — never from argv.
///
/// Everything read lands in ``SecureBytes``; temporary buffers are wiped. Standard input can supply one secret
/// per invocation: a second request is a usage error (64).
final class SecretInput {
    /// Largest secret file accepted.
    static let maximumSize = 64 * 1024
    private var stdinTakenFor: String?

    /// Whether standard input is a terminal (prompts are allowed only then).
    static var isInteractive: Bool { isatty(STDIN_FILENO) == 1 }

    /// Reads a secret file (`-` = standard input). One trailing `\n` or `\r\n` is stripped.
    /// - Parameter requirePrivate: refuse (78) a file with any group or other permission bit.
    func file(_ path: String, what: String, requirePrivate: Bool) throws -> SecureBytes {
        let value: SecureBytes
        if path == "-" {
            if let earlier = stdinTakenFor {
                throw CLIError.usage(
                    "standard input already supplies the \(earlier); the \(what) must come from elsewhere"
                )
            }
            stdinTakenFor = what
            value = try Self.readAll(fd: STDIN_FILENO, what: what)
        } else {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let reason = String(cString: strerror(errno))
                throw CLIError(
                    exitCode: ExitStatus.noInput,
                    kind: "no-input",
                    message: "cannot read the \(what) file \(path): \(reason)"
                )
            }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                throw CLIError.usage("the \(what) file \(path) is not a regular file")
            }
            if requirePrivate && st.st_mode & 0o077 != 0 {
                throw CLIError(
                    exitCode: ExitStatus.configuration,
                    kind: "unsafe-permissions",
                    message: "the \(what) file \(path) has mode \(String(st.st_mode & 0o777, radix: 8)); "
                        + "it must not be accessible to group or others (chmod 600 \(path))"
                )
            }
            value = try Self.readAll(fd: fd, what: what)
        }
        return try Self.checked(value.strippingOneTrailingNewline(), what: what)
    }

    /// The value of environment variable `name`, if set and non-empty.
    static func environment(_ name: String) -> SecureBytes? {
        guard let pointer = getenv(name) else { return nil }
        let length = strlen(pointer)
        guard length > 0 else { return nil }
        return SecureBytes(copying: UnsafeRawBufferPointer(start: pointer, count: length))
    }

    /// A non-secret environment value (paths, URLs).
    static func plainEnvironment(_ name: String) -> String? {
        guard let pointer = getenv(name), pointer.pointee != 0 else { return nil }
        return String(cString: pointer)
    }

    /// Asks on the terminal with echo off. With `confirm`, asks twice and requires the same answer.
    static func prompt(_ text: String, confirm: Bool = false) throws -> SecureBytes {
        let first = try promptOnce(text)
        if confirm {
            let second = try promptOnce("Repeat \(text.prefix(1).lowercased() + text.dropFirst())")
            guard first == second else { throw CLIError.usage("the two entries differ") }
        }
        return try checked(first, what: "entry")
    }

    private static func promptOnce(_ text: String) throws -> SecureBytes {
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard tty >= 0 else { throw CLIError.configuration("no terminal to prompt on") }
        defer { close(tty) }
        _ = text.withCString { write(tty, $0, strlen($0)) }
        var saved = termios()
        let haveTermios = tcgetattr(tty, &saved) == 0
        if haveTermios {
            var noEcho = saved
            noEcho.c_lflag &= ~tcflag_t(ECHO)
            // Ctrl-C while echo is off must not leave the terminal without echo.
            promptTerminal = (tty, saved)
            signal(SIGINT) { _ in
                if var restore = promptTerminal { _ = tcsetattr(restore.fd, TCSAFLUSH, &restore.state) }
                _exit(130)
            }
            _ = tcsetattr(tty, TCSAFLUSH, &noEcho)
        }
        defer {
            if haveTermios {
                _ = tcsetattr(tty, TCSAFLUSH, &saved)
                signal(SIGINT, SIG_DFL)
                promptTerminal = nil
            }
            _ = write(tty, "\n", 1)
        }
        var length = 0
        var complete = false
        let buffer = SecureBytes(count: 4096) { out in
            var byte: UInt8 = 0
            while length < out.count, read(tty, &byte, 1) == 1 {
                if byte == 0x0A {
                    complete = true
                    break
                }
                out[length] = byte
                length += 1
            }
            byte = 0
        }
        guard complete || length < buffer.count else {
            throw CLIError.usage("the entry is longer than \(buffer.count - 1) bytes; use a file instead")
        }
        return buffer.slice(0..<length).strippingOneTrailingNewline()
    }

    private static func readAll(fd: Int32, what: String) throws -> SecureBytes {
        var length = 0
        var failed = false
        let buffer = SecureBytes(count: maximumSize + 1) { out in
            while length < out.count {
                let n = read(fd, out.baseAddress! + length, out.count - length)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failed = true }
                if n <= 0 { break }
                length += n
            }
        }
        if failed { throw CLIError.failure("reading the \(what) failed: \(String(cString: strerror(errno)))") }
        guard length <= maximumSize else { throw CLIError.usage("the \(what) is larger than \(maximumSize) bytes") }
        return buffer.slice(0..<length)
    }

    private static func checked(_ value: SecureBytes, what: String) throws -> SecureBytes {
        guard !value.isEmpty else { throw CLIError.usage("the \(what) is empty") }
        guard !value.contains(byte: 0) else { throw CLIError.usage("the \(what) contains a NUL byte") }
        return value
    }
}
