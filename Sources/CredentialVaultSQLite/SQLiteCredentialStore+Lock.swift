public import CredentialVault
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The vault's lock file and its byte-range locks.
///
/// One lock per *vault*, not per path (DESIGN §4): the lock file is named after the vault file's identity
/// (device and inode, read through any symlink) and lives in `.sendcloud-vault-locks/` in the vault file's real
/// directory. A symlink, a second name in the same directory or a bind mount of the directory all reach the same
/// lock file. Each account locks one byte of it (at an offset derived from its name) with an open-file-description
/// lock (`F_OFD_SETLK`): like `flock`, it belongs to the open file description, so two tasks of one process exclude
/// each other just as two processes do, and the kernel drops it when the holder's descriptor closes — also when the
/// process is killed. A data-key rotation locks the whole range, i.e. every account at once.
///
/// The lock folder must be a real directory (not a symlink), owned by this user and private (0700), else
/// ``VaultError/Code/unsafePermissions``; the lock file is checked after locking to still be the file at its path,
/// so a lock file deleted or replaced meanwhile is never trusted. Lock files are never deleted by this package.
struct VaultLock: Sendable {
    /// The folder of lock files, in the vault's real directory.
    let directory: String
    /// This vault's lock file.
    let file: String

    /// Offsets of the account bytes: `1 ..< 1 + span`; offset 0 is left unused.
    static let accountBase: Int64 = 1
    static let accountSpan: Int64 = 1 << 62

    #if os(Linux)
    /// `F_OFD_SETLK` from `<fcntl.h>` (Linux ≥ 3.15); Glibc exposes it only with `_GNU_SOURCE`.
    private static let ofdSetLock: Int32 = 37
    #endif

    /// The lock of the vault file at `path` (resolved through symlinks).
    init(vaultPath path: String) throws {
        guard let real = realpath(path, nil) else {
            throw VaultError(.storage, "cannot resolve \(path): \(String(cString: strerror(errno)))")
        }
        let resolved = String(cString: real)
        free(real)
        var st = stat()
        guard stat(resolved, &st) == 0 else {
            throw VaultError(.storage, "cannot read \(resolved): \(String(cString: strerror(errno)))")
        }
        directory = (resolved as NSString).deletingLastPathComponent + "/.sendcloud-vault-locks"
        file = directory + "/\(st.st_dev)-\(st.st_ino).lock"
    }

    /// The byte of account `name`: FNV-1a (64 bit) of the name, folded into the account range. Two names that
    /// share a byte merely take turns.
    static func offset(of name: AccountName) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.rawValue.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0100_0000_01b3
        }
        return accountBase + Int64(hash % UInt64(accountSpan))
    }

    /// Holds the lock on `length` bytes from `start` while `body` runs; polls without blocking a thread until
    /// `timeout`, then throws ``VaultError/Code/lockTimeout`` naming `what`.
    func withLock<T: Sendable>(
        start: Int64,
        length: Int64,
        what: String,
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var pause = Duration.milliseconds(2)
        while true {
            let fd = try openLockFile()
            defer { _ = close(fd) }  // closing the descriptor releases the lock
            if try tryLock(fd, start: start, length: length) {
                if try isStillAtPath(fd) { return try await body() }
                continue  // the file was deleted or replaced after we opened it: lock the one at the path now
            }
            guard clock.now < deadline else {
                throw VaultError(.lockTimeout, "\(what) stayed locked by another holder for \(timeout)")
            }
            try await Task.sleep(for: min(pause, deadline - clock.now))
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    /// Creates the folder if needed and refuses an unsafe one, then opens (or creates, 0600) the lock file.
    func openLockFile() throws -> Int32 {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw VaultError(.storage, "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        try checkDirectory()
        let fd = Glibc.open(file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            if errno == ELOOP {
                throw VaultError(.unsafePermissions, "\(file) is a symlink; a lock file must be a regular file")
            }
            throw VaultError(.storage, "cannot open \(file): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == geteuid(),
            st.st_mode & 0o077 == 0
        else {
            _ = close(fd)
            throw VaultError(
                .unsafePermissions,
                "\(file) is not a private regular file of this user (chmod 600, or chown it); never delete a lock "
                    + "file while a sendcloud-vault process may hold it"
            )
        }
        return fd
    }

    /// The folder is a real directory (not a symlink), owned by this user, with no group or other permission.
    func checkDirectory() throws {
        var st = stat()
        guard lstat(directory, &st) == 0 else {
            throw VaultError(.storage, "cannot read \(directory): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == geteuid(), st.st_mode & 0o077 == 0 else {
            throw VaultError(
                .unsafePermissions,
                "the lock folder \(directory) must be a directory (not a symlink) owned by this user with mode 0700"
            )
        }
    }

    /// One non-blocking attempt; `false` when another holder has an overlapping lock.
    private func tryLock(_ fd: Int32, start: Int64, length: Int64) throws -> Bool {
        #if os(Linux)
        var request = flock()
        request.l_type = Int16(F_WRLCK)
        request.l_whence = Int16(SEEK_SET)
        request.l_start = off_t(start)
        request.l_len = off_t(length)
        request.l_pid = 0  // required by F_OFD_SETLK
        if fcntl(fd, Self.ofdSetLock, &request) == 0 { return true }
        if errno == EAGAIN || errno == EACCES || errno == EINTR { return false }
        throw VaultError(.storage, "cannot lock \(file): \(String(cString: strerror(errno)))")
        #else
        #error("the SQLite store's locks use Linux open-file-description locks (F_OFD_SETLK)")
        #endif
    }

    /// Whether `fd` is still the file at ``file`` (same device and inode): a lock on a file that was deleted or
    /// replaced meanwhile excludes nobody.
    func isStillAtPath(_ fd: Int32) throws -> Bool {
        var held = stat()
        var atPath = stat()
        guard fstat(fd, &held) == 0 else {
            throw VaultError(.storage, "cannot read \(file): \(String(cString: strerror(errno)))")
        }
        guard lstat(file, &atPath) == 0 else { return false }
        return held.st_dev == atPath.st_dev && held.st_ino == atPath.st_ino
    }
}

extension SQLiteCredentialStore {
    /// The folder of lock files: `.sendcloud-vault-locks/` (0700) in the vault file's real directory.
    public var lockDirectory: String { lock.directory }

    /// This vault's lock file, named after the vault file's device and inode.
    public var lockFile: String { lock.file }

    /// Runs `body` while holding account `name`'s lock, which every process using this vault file respects,
    /// whatever path it opened the vault by (see the lock's documentation in this file).
    public func withAccountLock<T: Sendable>(
        _ name: AccountName,
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        try await lock.withLock(
            start: VaultLock.offset(of: name),
            length: 1,
            what: "account '\(name)'",
            timeout: timeout,
            isolation: isolation,
            body
        )
    }

    /// Runs `body` while holding every account's lock at once (one lock over the whole account range).
    public func withEveryAccountLock<T: Sendable>(
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        try await lock.withLock(
            start: VaultLock.accountBase,
            length: VaultLock.accountSpan,
            what: "an account of this vault",
            timeout: timeout,
            isolation: isolation,
            body
        )
    }
}
