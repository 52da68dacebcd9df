import CredentialVault
import Foundation

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
    private var stdinTakenFor: String?

    /// Whether standard input is a terminal (prompts are allowed only then).
    static var isInteractive: Bool { isatty(STDIN_FILENO) == 1 }

    /// Reads a secret file (`-` = standard input) with the library's rules
    /// (``VaultUnlockSource/readSecretFile(_:what:requirePrivate:)``). One trailing `\n` or `\r\n` is stripped.
    /// - Parameter requirePrivate: refuse (78) a file with any group or other permission bit.
    func file(_ path: String, what: String, requirePrivate: Bool) throws -> SecureBytes {
        if path == "-" { try claimStandardInput(for: what) }
        return try Self.translatingErrors { () throws(VaultError) in
            try VaultUnlockSource.readSecretFile(path, what: what, requirePrivate: requirePrivate)
        }
    }

    /// Reads the secret of an unlock source (the library's order and checks).
    func unlockSecret(from source: VaultUnlockSource) throws -> UnlockSecret {
        if source.readsStandardInput { try claimStandardInput(for: source.secretName) }
        return try Self.translatingErrors { () throws(VaultError) in try source.secret() }
    }

    /// Runs a key or passphrase command (``SecretCommand``) and returns what it printed; a failure is 77.
    func commandOutput(_ command: SecretCommand, what: String) throws -> SecureBytes {
        try Self.translatingErrors { () throws(VaultError) in try command.run(what: what) }
    }

    /// Standard input supplies at most one secret per invocation (64 for a second).
    private func claimStandardInput(for what: String) throws {
        if let earlier = stdinTakenFor {
            throw CLIError.usage("standard input already supplies the \(earlier); the \(what) must come from elsewhere")
        }
        stdinTakenFor = what
    }

    /// The library's errors about secret input as the CLI has always reported them: the exit code of
    /// ``ExitStatus``, with the kinds `no-input` (66), `usage` (64) and `failure` (1) for a missing file, unusable
    /// input and a failed read.
    private static func translatingErrors<T>(_ body: () throws(VaultError) -> T) throws -> T {
        do { return try body() } catch {
            let kind =
                switch error.code {
                case .notFound: "no-input"
                case .invalidInput: "usage"
                case .storage: "failure"
                default: error.code.description
                }
            throw CLIError(exitCode: ExitStatus.exitCode(for: error.code), kind: kind, message: error.message)
        }
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

    /// Asks a question on the terminal, with echo (not for secrets); the answer without its newline (at most 256
    /// bytes).
    static func ask(_ text: String) throws -> String {
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard tty >= 0 else { throw CLIError.configuration("no terminal to ask on") }
        defer { close(tty) }
        _ = text.withCString { write(tty, $0, strlen($0)) }
        var answer: [UInt8] = []
        var byte: UInt8 = 0
        while answer.count < 256, read(tty, &byte, 1) == 1, byte != 0x0A { answer.append(byte) }
        return String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespaces)
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

    private static func checked(_ value: SecureBytes, what: String) throws -> SecureBytes {
        try translatingErrors { () throws(VaultError) in try VaultUnlockSource.checkedSecret(value, what: what) }
    }
}
