public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`: the part of Foundation's `Process` that the tests use, under the same
/// names, so that a test reads as it would with `Process`.
///
/// Why not `Process`: on Linux its `run()` scans `/proc/self/fd` and copies the whole 256-byte `d_name` of each
/// directory entry, reading past the end of glibc's buffer. In a test process with a thousand or more descriptors
/// open (parallel suites, each with SQLite files, pipes and sockets) that read sometimes reaches an unmapped page and
/// the whole test run dies of SIGSEGV: CI crashed at `Process.run() + 6428` in `__memcpy_avx512_unaligned_erms`
/// (swiftlang/swift-corelibs-foundation#5472, fixed upstream after the toolchain used here).
///
/// The child gets standard input, output and error as set (a `FileHandle`, a `Pipe`, or the parent's when `nil`),
/// no other descriptor of the parent (`posix_spawn_file_actions_addclosefrom_np`), an empty signal mask and the
/// default action for the common signals (a dispatch worker thread, which may start it, blocks some). The parent
/// closes the child's end of each pipe once the child runs, so that reading the other end reaches end-of-file when
/// the child exits. A thread of its own waits for the child (`waitpid`), then runs ``terminationHandler``.
///
/// Set the properties before ``run()``; after it, only the status may be read, from any thread.
public final class ChildProcess: @unchecked Sendable {
    /// The program (an absolute path; no `PATH` search).
    public var executableURL: URL?
    /// The arguments after the program's name.
    public var arguments: [String]?
    /// The working directory; the parent's when `nil`.
    public var currentDirectoryURL: URL?
    /// The whole environment; the parent's when `nil`.
    public var environment: [String: String]?
    /// A `FileHandle` or a `Pipe`; the parent's when `nil`.
    public var standardInput: Any?
    /// A `FileHandle` or a `Pipe`; the parent's when `nil`.
    public var standardOutput: Any?
    /// A `FileHandle` or a `Pipe`; the parent's when `nil`.
    public var standardError: Any?
    /// Runs once the child has ended and been reaped, on the waiting thread.
    public var terminationHandler: (@Sendable (ChildProcess) -> Void)?

    /// A `posix_spawn` step failed.
    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String
    }

    private struct State {
        var pid: pid_t = 0
        /// The raw `waitpid` status, once reaped.
        var status: Int32?
    }

    /// What a child that could not be waited for reports: `waitpid` failed (not EINTR), so its end is unknown.
    public static let unknownEndStatus: Int32 = 255

    private let state = Mutex(State())
    private let ended = DispatchGroup()

    public init() {}

    /// The child's process id (0 before ``run()``).
    public var processIdentifier: Int32 { state.withLock { $0.pid } }

    /// Whether the child has been started and not yet reaped.
    public var isRunning: Bool { state.withLock { $0.pid != 0 && $0.status == nil } }

    /// The exit status, or the signal that ended it (as `Process` reports them). Like `Process`, it traps while the
    /// child runs.
    public var terminationStatus: Int32 {
        guard let status = state.withLock({ $0.status }) else {
            preconditionFailure("terminationStatus read before the child ended")
        }
        return Self.signal(status).map { $0 } ?? (status >> 8) & 0xff
    }

    /// `.uncaughtSignal` when a signal ended the child, else `.exit`.
    public var terminationReason: Process.TerminationReason {
        state.withLock({ $0.status }).flatMap(Self.signal) == nil ? .exit : .uncaughtSignal
    }

    /// Blocks until the child has ended (at once if it has, or was never started).
    public func waitUntilExit() {
        ended.wait()
    }

    /// Starts the child.
    public func run() throws {
        guard let executable = executableURL?.path else { throw SpawnError(description: "no executable set") }
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        // The child's descriptors 0, 1 and 2, and the pipe ends the parent closes once it runs.
        var childEnds: [FileHandle] = []
        for (stream, target) in [
            (standardInput, STDIN_FILENO), (standardOutput, STDOUT_FILENO), (standardError, STDERR_FILENO),
        ] {
            let handle: FileHandle?
            switch stream {
            case let pipe as Pipe:
                handle = target == STDIN_FILENO ? pipe.fileHandleForReading : pipe.fileHandleForWriting
                childEnds.append(handle!)
            case let file as FileHandle:
                handle = file
            default:
                handle = nil  // inherited
            }
            guard let handle else { continue }
            if handle === FileHandle.nullDevice {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_RDWR, 0)
            } else if handle.fileDescriptor < 0 {
                throw SpawnError(description: "descriptor \(target) of the child was set to a closed file handle")
            } else {
                posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, target)
            }
        }
        #if !os(Linux)
        throw SpawnError(description: "ChildProcess runs on Linux only (the tests read /proc)")
        #else
        if let directory = currentDirectoryURL?.path {
            typealias AddChdir =
                @convention(c) (
                    UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>
                ) -> Int32
            guard let symbol = Self.symbol("posix_spawn_file_actions_addchdir_np") else {
                throw SpawnError(description: "this C library has no posix_spawn_file_actions_addchdir_np")
            }
            _ = unsafeBitCast(symbol, to: AddChdir.self)(&actions, directory)
        }
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let closeFrom = Self.symbol("posix_spawn_file_actions_addclosefrom_np") else {
            throw SpawnError(description: "this C library has no posix_spawn_file_actions_addclosefrom_np")
        }
        _ = unsafeBitCast(closeFrom, to: CloseFrom.self)(&actions, 3)
        #endif

        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let argv = Self.cStrings([executable] + (arguments ?? []))
        let envp = environment.map { Self.cStrings($0.map { "\($0.key)=\($0.value)" }) }
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp ?? [] { free(pointer) }
        }
        var pid: pid_t = 0
        let status = argv.withUnsafeBufferPointer { argvBuffer in
            if let envp {
                return envp.withUnsafeBufferPointer { envpBuffer in
                    posix_spawn(
                        &pid,
                        executable,
                        &actions,
                        &attributes,
                        argvBuffer.baseAddress!,
                        envpBuffer.baseAddress!
                    )
                }
            }
            return posix_spawn(&pid, executable, &actions, &attributes, argvBuffer.baseAddress!, environ)
        }
        guard status == 0 else {
            throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(status)))")
        }
        for handle in childEnds { try? handle.close() }
        state.withLock { $0.pid = pid }
        ended.enter()
        // Taken out of the property, so that a handler that holds this process is released once it has run.
        let handler = terminationHandler
        terminationHandler = nil
        let waiter = Thread { [self, pid] in
            var raw: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &raw, 0) } while result < 0 && errno == EINTR
            state.withLock { $0.status = result == pid ? raw : Self.unknownEndStatus << 8 }
            // Before `waitUntilExit()` returns (as with `Process`); so a handler must not wait for its own process.
            handler?(self)
            ended.leave()
        }
        waiter.name = "ChildProcess \(pid)"
        waiter.start()
    }

    /// The signal in a raw `waitpid` status, if one ended the process.
    private static func signal(_ status: Int32) -> Int32? {
        let signal = status & 0x7f
        return signal == 0 ? nil : signal
    }

    /// `strings` as C strings (to be freed), NULL-terminated.
    private static func cStrings(_ strings: [String]) -> [UnsafeMutablePointer<CChar>?] {
        strings.map { strdup($0) } + [nil]
    }

    private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
        dlsym(dlopen(nil, RTLD_NOW), name)
    }
}
