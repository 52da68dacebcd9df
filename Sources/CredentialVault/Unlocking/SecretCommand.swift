#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A command that prints a secret — a vault key (base64) or a passphrase — on its standard output: the
/// `--key-command` / `--passphrase-command` convention of restic's `--password-command` and borg's
/// `BORG_PASSCOMMAND`, so a KMS, `systemd-creds decrypt` or a secrets manager's CLI supplies the secret.
///
/// ``run()`` starts `/bin/sh -c COMMAND` with standard input on `/dev/null`, in a process group of its own, with
/// no file descriptor of this process other than its standard output and standard error (two pipes), the signal
/// mask cleared and the common signals at their default actions. Standard output is read into ``SecureBytes``
/// (at most ``VaultUnlockSource/maximumSecretFileSize`` bytes; one trailing `\n` or `\r\n` is stripped); standard
/// error is captured up to ``capturedErrorBytes`` and only ever shown as a short summary with control characters
/// escaped. After ``timeout`` the whole process group is killed (`SIGKILL`). The command is always reaped.
///
/// Every failure — it cannot be started, exits non-zero, dies of a signal, prints nothing, prints too much, or
/// outlives its timeout — is a ``VaultError/Code/secretCommandFailed`` whose message names ``origin``, the exit
/// status or signal and the stderr summary; it never contains the command's standard output, nor the command line
/// itself (which may hold a token the operator put there).
///
/// The command line is not a secret (it is visible in the process list when given as a flag), but what it prints
/// is. ``run()`` blocks the calling thread until the command ends or times out.
public struct SecretCommand: Sendable, Hashable {
    /// The shell command line, run with `/bin/sh -c`.
    public var command: String
    /// Where the command came from, for messages: `--key-command`, `SENDCLOUD_VAULT_KEY_COMMAND`, a configuration
    /// key.
    public var origin: String
    /// How long the command may run before its process group is killed.
    public var timeout: Duration

    /// 30 seconds: how long a command may run unless told otherwise.
    public static let defaultTimeout: Duration = .seconds(30)
    /// `SENDCLOUD_VAULT_COMMAND_TIMEOUT`: whole seconds (1–3600) that replace ``defaultTimeout`` for commands taken
    /// from the command line or the environment (``environmentTimeout``).
    public static let timeoutVariable = "SENDCLOUD_VAULT_COMMAND_TIMEOUT"
    /// How many bytes of the command's standard error are kept for the summary; the rest is read and dropped.
    public static let capturedErrorBytes = 4096
    /// The longest stderr summary, in characters, before escaping.
    public static let summaryLength = 160

    /// A command run with `/bin/sh -c command`; `origin` names it in messages.
    public init(_ command: String, origin: String, timeout: Duration = SecretCommand.defaultTimeout) {
        self.command = command
        self.origin = origin
        self.timeout = timeout
    }

    /// The timeout in `SENDCLOUD_VAULT_COMMAND_TIMEOUT` (whole seconds, 1–3600), else ``defaultTimeout`` — also
    /// when the value is not such a number.
    public static var environmentTimeout: Duration {
        guard let pointer = getenv(timeoutVariable), let seconds = Int(String(cString: pointer)),
            (1...3600).contains(seconds)
        else { return defaultTimeout }
        return .seconds(seconds)
    }

    /// Runs the command and returns what it printed on standard output, one trailing newline stripped.
    /// - Parameter what: what the command supplies, for messages (`vault key`, `passphrase`).
    /// - Throws: ``VaultError/Code/secretCommandFailed`` (see the type's description).
    public func run(what: String = "secret") throws(VaultError) -> SecureBytes {
        let child = try spawn(what: what)
        let outcome = child.collect(deadline: ContinuousClock.now.advanced(by: timeout))
        let stdout = outcome.stdout
        let summary = Self.summary(of: outcome.stderr)
        let name = "the \(what) command (\(origin))"
        switch outcome.ending {
        case .timedOut:
            throw failure("\(name) did not finish within \(Self.describe(timeout)) and was killed", summary)
        case .oversize:
            throw failure(
                "\(name) printed more than \(VaultUnlockSource.maximumSecretFileSize) bytes and was killed",
                summary
            )
        case .readFailed(let reason):
            throw failure("reading the output of \(name) failed: \(reason)", summary)
        case .signalled(let signal):
            throw failure("\(name) was killed by signal \(signal)", summary)
        case .exited(let status) where status != 0:
            throw failure("\(name) exited with status \(status)", summary)
        case .exited:
            let value = stdout.strippingOneTrailingNewline()
            guard !value.isEmpty else { throw failure("\(name) printed nothing on standard output", summary) }
            guard !value.contains(byte: 0) else {
                throw failure("\(name) printed a NUL byte on standard output", summary)
            }
            return value
        }
    }

    private func failure(_ message: String, _ summary: String) -> VaultError {
        VaultError(.secretCommandFailed, "\(message); its stderr: \(summary)")
    }

    // MARK: - Starting

    /// Starts `/bin/sh -c command` as described on the type.
    private func spawn(what: String) throws(VaultError) -> RunningCommand {
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard Self.makePipe(&out) else { throw startFailure(what) }
        guard Self.makePipe(&err) else {
            close(out[0])
            close(out[1])
            throw startFailure(what)
        }
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
            close(out[1])
            close(err[1])
        }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO)
        posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO)
        Self.closeOtherDescriptors(&actions, &attributes)

        var flags = Int32(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        #if canImport(Darwin)
        flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        #endif
        posix_spawnattr_setflags(&attributes, Int16(truncatingIfNeeded: flags))
        posix_spawnattr_setpgroup(&attributes, 0)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU]
        {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        var pid: pid_t = 0
        let arguments = ["/bin/sh", "-c", command]
        let environment = Self.passedEnvironment()
        let status = Self.withCStrings(arguments) { argv in
            environment.withUnsafeBufferPointer { envp in
                posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp.baseAddress!)
            }
        }
        guard status == 0 else {
            close(out[0])
            close(err[0])
            throw VaultError(
                .secretCommandFailed,
                "the \(what) command (\(origin)) could not be started: \(String(cString: strerror(status)))"
            )
        }
        return RunningCommand(pid: pid, stdout: out[0], stderr: err[0])
    }

    private func startFailure(_ what: String) -> VaultError {
        VaultError(
            .secretCommandFailed,
            "the \(what) command (\(origin)) could not be started: \(String(cString: strerror(errno)))"
        )
    }

    /// `pipe2(O_CLOEXEC)` where the C library has it (looked up at run time: Swift does not import it), else `pipe`
    /// and `FD_CLOEXEC` at once.
    private static func makePipe(_ fds: inout [Int32]) -> Bool {
        typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
        if let symbol = CLibrary.symbol("pipe2") {
            return unsafeBitCast(symbol, to: Pipe2.self)(&fds, O_CLOEXEC) == 0
        }
        guard pipe(&fds) == 0 else { return false }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return true
    }

    /// Closes every descriptor above standard error in the child: glibc's `posix_spawn_file_actions_addclosefrom_np`
    /// (2.34+), else a close action for each descriptor open now (`/proc/self/fd`); on Darwin,
    /// `POSIX_SPAWN_CLOEXEC_DEFAULT` does it.
    private static func closeOtherDescriptors(
        _ actions: inout posix_spawn_file_actions_t,
        _ attributes: inout posix_spawnattr_t
    ) {
        #if os(Linux)
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = CLibrary.symbol("posix_spawn_file_actions_addclosefrom_np"),
            unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3) == 0
        {
            return
        }
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        let own = dirfd(directory)
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(directory) {
            // The name read in place, up to its NUL: `entry.pointee.d_name` would copy all 256 bytes of the field,
            // past the end of a short entry and of readdir's buffer (swiftlang/swift-corelibs-foundation#5472).
            let name = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
            if let fd = Int32(name), fd > 2, fd != own { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        #endif
    }

    /// How long standard error is still read once standard output is complete and the shell has exited.
    static let stderrGrace = Duration.milliseconds(200)

    /// The variables that hold this tool's secrets (and libpq's password): never passed to a command, which is often
    /// a third party's tool (a KMS or secrets-manager CLI).
    public static let withheldVariables = [
        "SENDCLOUD_VAULT_KEY", "SENDCLOUD_VAULT_PASSPHRASE", "SENDCLOUD_VAULT_NEW_PASSPHRASE",
        "SENDCLOUD_VAULT_BACKUP_PASSPHRASE", "SENDCLOUD_CLIENT_SECRET", "SENDCLOUD_REFRESH_TOKEN", "PGPASSWORD",
    ]

    /// The process's environment without ``withheldVariables``, as the pointers of `environ` (no entry is copied, so
    /// no secret passes through a Swift string), NULL-terminated. Valid while the environment is not changed.
    private static func passedEnvironment() -> [UnsafeMutablePointer<CChar>?] {
        let prefixes = withheldVariables.map { Array(($0 + "=").utf8CString.dropLast()) }
        var passed: [UnsafeMutablePointer<CChar>?] = []
        var entry = environ
        while let variable = entry.pointee {
            let withheld = prefixes.contains { prefix in
                prefix.withUnsafeBufferPointer { strncmp(variable, $0.baseAddress!, prefix.count) == 0 }
            }
            if !withheld { passed.append(variable) }
            entry += 1
        }
        return passed + [nil]
    }

    private static func withCStrings<R>(
        _ strings: [String],
        _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
    ) -> R {
        let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    // MARK: - Messages

    /// A bounded, printable rendering of the captured standard error: whitespace at the ends trimmed, at most
    /// ``summaryLength`` characters kept, control and format characters escaped as `\u{…}`, `(empty)` for nothing.
    static func summary(of bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        let trimmed = text.unicodeScalars.drop { $0.properties.isWhitespace }.reversed()
            .drop { $0.properties.isWhitespace }.reversed()
        guard !trimmed.isEmpty else { return "(empty)" }
        var out = "\""
        var kept = 0
        for scalar in trimmed {
            if kept == summaryLength {
                out += "…\" (\(bytes.count)\(bytes.count >= capturedErrorBytes ? " or more" : "") bytes)"
                return out
            }
            kept += 1
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            default:
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned, .privateUse:
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                default:
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func describe(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return "\(seconds) s" }
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000) ms"
    }
}

/// Symbols of the C library that Swift's Glibc module does not import.
private enum CLibrary {
    nonisolated(unsafe) static let handle = dlopen(nil, RTLD_NOW)

    static func symbol(_ name: String) -> UnsafeMutableRawPointer? { dlsym(handle, name) }
}

/// A started command: its process (the leader of its own group) and the read ends of its output pipes, which
/// ``collect(deadline:)`` reads, closes and reaps.
private struct RunningCommand {
    enum Ending {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
        case oversize
        case readFailed(String)
    }

    struct Outcome {
        var stdout: SecureBytes
        var stderr: [UInt8]
        var ending: Ending
    }

    let pid: pid_t
    let stdout: Int32
    let stderr: Int32

    /// Reads both pipes until they close — standard error only for ``SecretCommand/stderrGrace`` more once standard
    /// output is complete and the shell has exited — then waits for the process; at `deadline` (or when standard
    /// output overflows) kills the whole group. Always closes the pipes and reaps the process.
    func collect(deadline: ContinuousClock.Instant) -> Outcome {
        var errorBytes: [UInt8] = []
        var problem: Ending?
        var leaderStatus: Int32?
        var length = 0
        let limit = VaultUnlockSource.maximumSecretFileSize
        let buffer = SecureBytes(count: limit + 1) { out in
            var open = [stdout, stderr]
            var scratch = [UInt8](repeating: 0, count: 4096)
            var stderrGrace: ContinuousClock.Instant?
            func exited() -> Bool {
                var status: Int32 = 0
                guard waitpid(pid, &status, WNOHANG) == pid else { return false }
                leaderStatus = status
                return true
            }
            while !open.isEmpty && problem == nil {
                // Standard output is complete and the shell has exited: a background process it left (an agent
                // started on first use) may hold standard error open for long; give it a moment, then stop reading.
                if !open.contains(stdout) {
                    if stderrGrace == nil, exited() { stderrGrace = .now + SecretCommand.stderrGrace }
                    if let grace = stderrGrace, ContinuousClock.now >= grace { break }
                }
                let remaining = min(
                    ContinuousClock.now.duration(to: deadline),
                    open.contains(stdout) ? .seconds(3600) : .milliseconds(50)
                )
                guard remaining > .zero else {
                    problem = .timedOut
                    break
                }
                var polls = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                let ready = poll(&polls, nfds_t(polls.count), Self.milliseconds(remaining))
                if ready < 0 {
                    if errno == EINTR { continue }
                    problem = .readFailed(String(cString: strerror(errno)))
                    break
                }
                for entry in polls where entry.revents != 0 {
                    if entry.fd == stdout {
                        let n = read(stdout, out.baseAddress! + length, out.count - length)
                        if n > 0 {
                            length += n
                            if length > limit { problem = .oversize }
                        } else if n == 0 || errno != EINTR && errno != EAGAIN {
                            open.removeAll { $0 == stdout }
                        }
                    } else {
                        let n = scratch.withUnsafeMutableBytes { read(stderr, $0.baseAddress!, $0.count) }
                        if n > 0 {
                            let room = SecretCommand.capturedErrorBytes - errorBytes.count
                            if room > 0 { errorBytes += scratch.prefix(min(room, n)) }
                        } else if n == 0 || errno != EINTR && errno != EAGAIN {
                            open.removeAll { $0 == stderr }
                        }
                    }
                }
            }
        }
        close(stdout)
        close(stderr)
        let ending =
            if let problem { leaderStatus == nil ? finishKilled(problem) : problem } else {
                leaderStatus.map(Self.ending) ?? wait(until: deadline)
            }
        return Outcome(stdout: buffer.slice(0..<min(length, limit)), stderr: errorBytes, ending: ending)
    }

    /// Waits for the process after its pipes closed; kills its group at `deadline`.
    private func wait(until deadline: ContinuousClock.Instant) -> Ending {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return Self.ending(status) }
            if result < 0 && errno != EINTR { return .readFailed(String(cString: strerror(errno))) }
            if ContinuousClock.now >= deadline { return finishKilled(.timedOut) }
            usleep(5_000)
        }
    }

    /// Kills the whole process group (the unreaped leader keeps the group id ours), then reaps the leader.
    private func finishKilled(_ ending: Ending) -> Ending {
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return ending
    }

    private static func ending(_ status: Int32) -> Ending {
        let signal = status & 0x7f
        if signal == 0 { return .exited((status >> 8) & 0xff) }
        return .signalled(signal)
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1
        return Int32(clamping: total)
    }
}
