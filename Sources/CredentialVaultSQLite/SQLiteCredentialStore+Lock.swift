public import CredentialVault
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The vault's per-account locks: byte-range locks on the vault file itself.
///
/// One lock per *vault*, not per path (DESIGN §4): the locks are open-file-description locks (`F_OFD_SETLK`) on
/// bytes of the vault file's inode, so a symlink, another spelling of the path or a bind mount of its folder all
/// reach the same locks, and there is no lock file that anyone could delete or replace while it is held. Each
/// account locks one byte at an offset derived from its name, far above the bytes SQLite locks (which sit at
/// 1 GiB); a data-key rotation locks the whole account range, i.e. every account at once. The kernel drops the
/// locks when the holder's process dies.
///
/// Two rules make this safe next to SQLite in the same process:
/// - A process's SQLite connections hold classic POSIX locks on the same file, and closing *any* descriptor of a
///   file drops all of a process's POSIX locks on it. So the descriptor these locks use is opened once per vault
///   file and process, and closed only when the last store on that file has closed its SQLite connection.
/// - Locks of one open file description do not exclude each other, so tasks of one process are excluded from each
///   other by a table in this process, before the kernel lock excludes other processes.
final class VaultLock: Sendable {
    /// The vault file's identity.
    struct Identity: Hashable, Sendable {
        var device: UInt64
        var inode: UInt64
    }

    /// One vault file's descriptor and what this process holds on it.
    private struct Entry {
        var descriptor: Int32 = -1
        var stores = 0
        var accounts: Set<Int64> = []
        var everyAccount = false
    }

    /// Every vault file this process has locks on.
    private static let files = Mutex<[Identity: Entry]>([:])

    /// Offsets of the account bytes: `[2^62, 2^63 - 1)`, far from SQLite's lock bytes at 2^30.
    static let accountBase: Int64 = 1 << 62
    static let accountSpan: Int64 = (1 << 62) - 1

    #if os(Linux)
    /// `F_OFD_SETLK` from `<fcntl.h>` (Linux ≥ 3.15); Glibc exposes it only with `_GNU_SOURCE`.
    private static let ofdSetLock: Int32 = 37
    #endif

    /// The vault file, as given.
    let path: String
    /// Its device and inode when the store opened it.
    let identity: Identity

    /// Registers a store of the vault file at `path`.
    init(vaultPath path: String) throws {
        self.path = path
        identity = try Self.identity(of: path)
        Self.files.withLock { $0[identity, default: Entry()].stores += 1 }
    }

    /// Called by the store after it closed its SQLite connection: the last store of a file closes the descriptor.
    func storeClosed() {
        Self.files.withLock { files in
            guard var entry = files[identity] else { return }
            entry.stores -= 1
            if entry.stores <= 0 && entry.accounts.isEmpty && !entry.everyAccount {
                if entry.descriptor >= 0 { _ = close(entry.descriptor) }
                files[identity] = nil
            } else {
                files[identity] = entry
            }
        }
    }

    static func identity(of path: String) throws -> Identity {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw VaultError(.storage, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        return Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// Whether ``path`` still names the file this lock locks (a vault replaced meanwhile would have other locks).
    func isStillAtPath() -> Bool {
        (try? Self.identity(of: path)) == identity
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

    /// Holds account `offset`'s lock (or, with `nil`, every account's) while `body` runs; polls without blocking a
    /// thread until `timeout`, then throws ``VaultError/Code/lockTimeout`` naming `what`.
    func withLock<T: Sendable>(
        account offset: Int64?,
        what: String,
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var pause = Duration.milliseconds(2)
        while try !tryLock(offset) {
            guard clock.now < deadline else {
                throw VaultError(.lockTimeout, "\(what) stayed locked by another holder for \(timeout)")
            }
            try await Task.sleep(for: min(pause, deadline - clock.now))
            pause = min(pause * 2, .milliseconds(50))
        }
        defer { unlock(offset) }
        return try await body()
    }

    /// One attempt: this process's table first, then the kernel lock for other processes.
    private func tryLock(_ offset: Int64?) throws -> Bool {
        try Self.files.withLock { files in
            var entry = files[identity, default: Entry()]
            if entry.everyAccount { return false }
            if let offset, entry.accounts.contains(offset) { return false }
            if offset == nil && !entry.accounts.isEmpty { return false }
            if entry.descriptor < 0 {
                entry.descriptor = try openDescriptor()
                files[identity] = entry
            }
            guard try Self.setLock(entry.descriptor, F_WRLCK, offset, path) else { return false }
            if let offset { entry.accounts.insert(offset) } else { entry.everyAccount = true }
            files[identity] = entry
            return true
        }
    }

    private func unlock(_ offset: Int64?) {
        Self.files.withLock { files in
            guard var entry = files[identity] else { return }
            _ = try? Self.setLock(entry.descriptor, F_UNLCK, offset, path)
            if let offset { entry.accounts.remove(offset) } else { entry.everyAccount = false }
            files[identity] = entry
        }
    }

    /// Opens the vault file for locking and checks that it is still the file the store opened.
    private func openDescriptor() throws -> Int32 {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw VaultError(.storage, "cannot open \(path) for locking: \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) == identity else {
            _ = close(fd)  // not the file our SQLite connection has open: closing it drops none of its locks
            throw VaultError(.storage, "\(path) was replaced since the vault was opened; open it again")
        }
        return fd
    }

    /// `F_OFD_SETLK` of `type` on one account byte, or on the whole account range for `nil`; `false` when another
    /// open file description holds an overlapping lock.
    private static func setLock(_ fd: Int32, _ type: Int32, _ offset: Int64?, _ path: String) throws -> Bool {
        #if os(Linux)
        var request = flock()
        request.l_type = Int16(type)
        request.l_whence = Int16(SEEK_SET)
        request.l_start = off_t(offset ?? accountBase)
        request.l_len = off_t(offset == nil ? accountSpan : 1)
        request.l_pid = 0  // required by F_OFD_SETLK
        if fcntl(fd, ofdSetLock, &request) == 0 { return true }
        if errno == EAGAIN || errno == EACCES || errno == EINTR { return false }
        throw VaultError(.storage, "cannot lock \(path): \(String(cString: strerror(errno)))")
        #else
        #error("the SQLite store's locks use Linux open-file-description locks (F_OFD_SETLK)")
        #endif
    }
}

extension SQLiteCredentialStore {
    /// Runs `body` while holding account `name`'s lock, which every process using this vault file respects,
    /// whatever path it opened the vault by (a byte-range lock on the vault file; see ``VaultLock``).
    public func withAccountLock<T: Sendable>(
        _ name: AccountName,
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        try await lock.withLock(
            account: VaultLock.offset(of: name),
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
            account: nil,
            what: "an account of this vault",
            timeout: timeout,
            isolation: isolation,
            body
        )
    }
}
