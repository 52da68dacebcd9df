import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One `--issue-refresh-token CLIENT_ID=PATH`: where to write a refresh token issued to a client at start-up.
struct RefreshTokenFile: ExpressibleByArgument {
    /// The client the authorization belongs to.
    var clientID: String
    /// A file that must not exist yet.
    var path: String

    init?(argument: String) {
        guard let equals = argument.firstIndex(of: "=") else { return nil }
        clientID = String(argument[..<equals])
        path = String(argument[argument.index(after: equals)...])
        guard !clientID.isEmpty, !path.isEmpty else { return nil }
    }

    static var defaultCompletionKind: CompletionKind { .file() }

    /// Creates ``path`` (mode 0600, never over an existing file or through a symlink) holding `token` and a newline.
    func write(_ token: String) throws(StartupFailure) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StartupFailure(
                message: "cannot create the refresh token file \(path): \(String(cString: strerror(errno)))",
                exitCode: 73
            )
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            try handle.write(contentsOf: Data((token + "\n").utf8))
            try handle.synchronize()
        } catch {
            throw StartupFailure(message: "cannot write the refresh token file \(path): \(error)", exitCode: 74)
        }
    }
}
