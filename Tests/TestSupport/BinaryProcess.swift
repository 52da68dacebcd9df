public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A binary of the package (an example, the development endpoint), run as a user would: a clean environment, stdin
/// closed, output captured, signals sent, exit awaited. Killed when released if it is still running.
public final class BinaryProcess: Sendable {
    private struct State {
        var stdout = Data()
        var stderr = Data()
        var exit: (status: Int32, signalled: Bool)?
    }

    /// What the pipes and the termination handler deliver, shared with their closures.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared = Shared()
    private let pid: Int32
    /// The binary's name, for messages.
    public let name: String

    /// `TEST_BIN_DIR/NAME`, else the binary beside the running test bundle, else `<package root>/.build/debug/NAME`.
    public static func binary(_ name: String) throws -> String {
        var candidates: [String] = []
        if let directory = ProcessInfo.processInfo.environment["TEST_BIN_DIR"], !directory.isEmpty {
            candidates.append(directory + "/" + name)
        }
        let running = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(running.deletingLastPathComponent().appendingPathComponent(name).path)
        candidates.append(packageRoot.appendingPathComponent(".build/debug/" + name).path)
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestSupportError(
                description: "the \(name) binary is missing (looked at \(candidates)): run "
                    + "`swift build --build-tests` first, or set TEST_BIN_DIR"
            )
        }
        return found
    }

    /// The package's root folder.
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // TestSupport
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    /// Starts binary `name` with `arguments` and `environment` (plus PATH and HOME = `directory`).
    public init(
        _ name: String,
        _ arguments: [String] = [],
        environment: [String: String] = [:],
        in directory: TempDir
    ) throws {
        self.name = name
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: try Self.binary(name))
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": directory.path].merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let shared = self.shared
        out.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            shared.state.withLock { $0.stdout.append(chunk) }
        }
        err.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            shared.state.withLock { $0.stderr.append(chunk) }
        }
        process.terminationHandler = { ended in
            // Whatever is still in the pipes arrives before the exit is reported.
            out.fileHandleForReading.readabilityHandler = nil
            err.fileHandleForReading.readabilityHandler = nil
            let restOut = out.fileHandleForReading.readDataToEndOfFile()
            let restErr = err.fileHandleForReading.readDataToEndOfFile()
            shared.state.withLock {
                $0.stdout.append(restOut)
                $0.stderr.append(restErr)
                $0.exit = (ended.terminationStatus, ended.terminationReason == .uncaughtSignal)
            }
        }
        try process.run()
        pid = process.processIdentifier
    }

    deinit {
        if shared.state.withLock({ $0.exit == nil }) { kill(pid, SIGKILL) }
    }

    public var stdout: String { String(decoding: shared.state.withLock { $0.stdout }, as: UTF8.self) }
    public var stderr: String { String(decoding: shared.state.withLock { $0.stderr }, as: UTF8.self) }
    /// Both streams, for checks that a secret appears in neither.
    public var output: String { stdout + "\n" + stderr }

    /// Sends `signal` to the process.
    public func send(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits (at most `timeout`) until `stream` holds a line for which `match` returns a value, and returns it.
    @discardableResult
    public func waitForLine<T>(
        onStderr: Bool = false,
        timeout: Duration = .seconds(60),
        _ match: (Substring) -> T?
    ) async throws -> T {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            let text = onStderr ? stderr : stdout
            for line in text.split(separator: "\n") {
                if let found = match(line) { return found }
            }
            if shared.state.withLock({ $0.exit != nil }) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSupportError(description: "\(name): the line waited for did not come; \(transcript)")
    }

    /// Runs the binary to its end (at most `timeout`), for one-shot tools.
    public static func run(
        _ name: String,
        _ arguments: [String],
        environment: [String: String],
        in directory: TempDir,
        timeout: Duration = .seconds(120)
    ) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try BinaryProcess(name, arguments, environment: environment, in: directory)
        let exit = try await process.exit(timeout: timeout)
        return (exit.signalled ? -1 : exit.status, process.stdout, process.stderr)
    }

    /// Waits (at most `timeout`) for the process to exit; returns its status and whether a signal ended it.
    public func exit(timeout: Duration = .seconds(60)) async throws -> (status: Int32, signalled: Bool) {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if let exit = shared.state.withLock({ $0.exit }) { return exit }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(pid, SIGKILL)
        throw TestSupportError(description: "\(name) did not exit; \(transcript)")
    }

    /// Waits (at most `timeout`) until stdout holds `count` complete lines, and returns them; throws otherwise.
    public func lines(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [String] {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            let lines = stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
            if lines.count >= count { return lines }
            if shared.state.withLock({ $0.exit != nil }) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSupportError(description: "\(name): no \(count) lines on stdout; \(transcript)")
    }

    /// Both streams, for failure messages (the tests' secrets are made up for them).
    public var transcript: String { "stdout:\n\(stdout)\nstderr:\n\(stderr)" }
}
