import Foundation
import Synchronization
import TestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The built `sendcloud-dev-endpoint` binary, run as a developer would: output captured, signals sent, exit awaited.
final class DevEndpointProcess: Sendable {
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

    /// `SENDCLOUD_DEV_ENDPOINT_BIN`, else the binary beside the running test bundle, else
    /// `<package root>/.build/debug/sendcloud-dev-endpoint`.
    static func binary() throws -> String {
        var candidates: [String] = []
        if let path = ProcessInfo.processInfo.environment["SENDCLOUD_DEV_ENDPOINT_BIN"], !path.isEmpty {
            candidates.append(path)
        }
        let running = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(running.deletingLastPathComponent().appendingPathComponent("sendcloud-dev-endpoint").path)
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(packageRoot.appendingPathComponent(".build/debug/sendcloud-dev-endpoint").path)
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestSupportError(
                description: "the sendcloud-dev-endpoint binary is missing (looked at \(candidates)): run "
                    + "`swift build --build-tests` first, or set SENDCLOUD_DEV_ENDPOINT_BIN"
            )
        }
        return found
    }

    /// Starts the binary with `arguments`, a clean environment and stdin closed.
    init(_ arguments: [String], in directory: TempDir) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary())
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": directory.path]
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

    var stdout: String { String(decoding: shared.state.withLock { $0.stdout }, as: UTF8.self) }
    var stderr: String { String(decoding: shared.state.withLock { $0.stderr }, as: UTF8.self) }

    /// Sends `signal` to the process.
    func send(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits (at most `timeout`) until stdout holds `count` complete lines, and returns them; throws otherwise.
    func lines(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [String] {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            let text = stdout
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
            if lines.count >= count { return lines }
            if shared.state.withLock({ $0.exit != nil }) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSupportError(description: "no \(count) lines on stdout; stdout: \(stdout) stderr: \(stderr)")
    }

    /// Waits (at most `timeout`) for the process to exit; returns its status and whether a signal ended it.
    func exit(timeout: Duration = .seconds(60)) async throws -> (status: Int32, signalled: Bool) {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if let exit = shared.state.withLock({ $0.exit }) { return exit }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(pid, SIGKILL)
        throw TestSupportError(description: "sendcloud-dev-endpoint did not exit; stderr: \(stderr)")
    }
}
