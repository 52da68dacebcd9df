import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A private (0700) temporary directory, removed with everything in it when the value is released.
///
/// Swift Testing makes one suite instance per test, so a `TempDir` stored in a suite (or a harness) lives exactly as
/// long as its test.
public final class TempDir: Sendable {
    /// The directory's absolute path.
    public let path: String

    /// Creates a new directory `<system temporary directory>/<prefix>.XXXXXX` with `mkdtemp` (mode 0700).
    public init(prefix: String = "scv") throws {
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix).XXXXXX").path
        var buffer = Array(template.utf8CString)
        guard let made = mkdtemp(&buffer) else {
            throw TestSupportError(description: "mkdtemp \(template) failed: \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The path of `name` inside the directory (nothing is created).
    public func file(_ name: String) -> String { path + "/" + name }
}

/// A failure of the test support itself (not of the code under test).
public struct TestSupportError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String

    /// An error with this description.
    public init(description: String) {
        self.description = description
    }
}
