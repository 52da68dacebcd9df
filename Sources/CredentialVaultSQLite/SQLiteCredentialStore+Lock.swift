public import CredentialVault
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension SQLiteCredentialStore {
    /// The folder of per-account lock files: `<vault>.locks/` (0700), one `<account>.lock` (0600) per account.
    public var lockDirectory: String { path + ".locks" }

    /// Takes `flock(LOCK_EX)` on `<vault>.locks/<account>.lock`, polling without blocking a thread, then runs `body`.
    ///
    /// `flock` locks belong to the open file description, so two tasks of one process exclude each other just as
    /// two processes do, and the kernel drops the lock when the holder's descriptor closes — including when the
    /// process is killed. Lock files are never deleted (deleting one could let two holders lock different inodes).
    public func withAccountLock<T: Sendable>(
        _ name: AccountName,
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        let fd = try openLockFile(name)
        defer { closeDescriptor(fd) }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var pause = Duration.milliseconds(2)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw VaultError(.storage, "cannot lock account '\(name)': \(String(cString: strerror(errno)))")
            }
            guard clock.now < deadline else {
                throw VaultError(.lockTimeout, "account '\(name)' stayed locked by another holder for \(timeout)")
            }
            try await Task.sleep(for: min(pause, deadline - clock.now))
            pause = min(pause * 2, .milliseconds(50))
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try await body()
    }

    private func openLockFile(_ name: AccountName) throws -> Int32 {
        if mkdir(lockDirectory, 0o700) != 0 && errno != EEXIST {
            throw VaultError(.storage, "cannot create \(lockDirectory): \(String(cString: strerror(errno)))")
        }
        // Account names are [A-Za-z0-9._@-] and never start with '.', so they are safe file names.
        let file = lockDirectory + "/" + name.rawValue + ".lock"
        let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw VaultError(.storage, "cannot open \(file): \(String(cString: strerror(errno)))")
        }
        return fd
    }
}
