import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes and reads backup files.
///
/// Writing is atomic: the bytes go to a new temporary file in the target's directory (`O_CREAT | O_EXCL`, mode
/// 0600), are synced, then take the target's name — by `link` when an existing file must not be replaced (which
/// fails if the name exists, however it got there) or by `rename` when it may — and the directory is synced. A
/// reader never sees a partial backup, and a crash leaves at most a stray `.NAME.tmp-…` file.
///
/// The directory must not be writable by group or others unless it is sticky (like `/tmp`): in such a directory
/// anyone could delete or replace the backup. (Replacing it with a forgery is detected at import — it would not
/// authenticate — but a backup one cannot count on is no backup.)
enum BackupFile {
    /// Checks what can be checked before the (possibly slow) export: the directory exists and is safe, and without
    /// `overwrite` nothing exists at `path`.
    static func checkWritable(_ path: String, overwrite: Bool) throws(VaultError) {
        let directory = directoryOf(path)
        var st = stat()
        guard stat(directory, &st) == 0 else {
            throw VaultError(
                .notFound,
                "cannot write the backup into \(directory): \(String(cString: strerror(errno)))"
            )
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw VaultError(.invalidInput, "\(directory) is not a directory")
        }
        if st.st_mode & 0o022 != 0 && st.st_mode & S_ISVTX == 0 {
            throw VaultError(
                .unsafePermissions,
                "the directory \(directory) has mode \(String(st.st_mode & 0o777, radix: 8)): others could delete or "
                    + "replace the backup; write it into a directory only you can write (or a sticky one such as /tmp)"
            )
        }
        var target = stat()
        if lstat(path, &target) == 0 {
            guard overwrite else { throw VaultError(.alreadyExists, "\(path) exists already") }
            guard (target.st_mode & S_IFMT) == S_IFREG else {
                throw VaultError(.invalidInput, "\(path) exists and is not a regular file")
            }
        }
    }

    /// Writes `bytes` to `path` atomically (see the type's documentation).
    /// - Throws: ``VaultError``: ``VaultError/Code/alreadyExists`` when `path` exists and not `overwrite`;
    ///   ``VaultError/Code/unsafePermissions`` for an unsafe directory; ``VaultError/Code/storage`` when writing
    ///   fails (nothing is left behind then).
    static func write(_ bytes: [UInt8], to path: String, overwrite: Bool) throws(VaultError) {
        try checkWritable(path, overwrite: overwrite)
        let directory = directoryOf(path)
        let name = (path as NSString).lastPathComponent
        let temporary =
            directory + "/." + name + ".tmp-" + Sodium.randomBytes(6).map { String(format: "%02x", $0) }.joined()
        let fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw VaultError(.storage, "cannot create a file in \(directory): \(String(cString: strerror(errno)))")
        }
        var fdOpen = true
        var published = false
        defer {
            if fdOpen { close(fd) }
            if !published { unlink(temporary) }
        }
        func failure(_ doing: String) -> VaultError {
            VaultError(.storage, "\(doing) the backup \(path) failed: \(String(cString: strerror(errno)))")
        }
        // The umask can only clear bits; fchmod makes the mode exactly 0600 whatever it is.
        guard fchmod(fd, 0o600) == 0 else { throw failure("protecting") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { writeSome(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw failure("writing") }
            written += n
        }
        guard fsync(fd) == 0 else { throw failure("syncing") }
        fdOpen = false
        guard close(fd) == 0 else { throw failure("closing") }
        if overwrite {
            guard rename(temporary, path) == 0 else { throw failure("renaming") }
            published = true
        } else {
            guard link(temporary, path) == 0 else {
                if errno == EEXIST { throw VaultError(.alreadyExists, "\(path) exists already") }
                throw failure("linking")
            }
            published = true
            unlink(temporary)
        }
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            close(dirFD)
        }
    }

    /// The bytes of the backup file at `path`: a regular file of at most ``VaultBackup/maximumFileSize`` bytes,
    /// refused before it is read if larger.
    /// - Throws: ``VaultError``: ``VaultError/Code/notFound`` (cannot open), ``VaultError/Code/invalidInput`` (not a
    ///   regular file), ``VaultError/Code/integrityFailure`` (too large to be a backup), ``VaultError/Code/storage``.
    static func read(_ path: String) throws(VaultError) -> [UInt8] {
        // Non-blocking until it is known to be a regular file: a FIFO must not hang the open.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw VaultError(.notFound, "cannot read the backup \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw VaultError(.invalidInput, "the backup \(path) is not a regular file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        let limit = VaultBackup.maximumFileSize
        guard st.st_size <= limit else {
            throw VaultError(.integrityFailure, "\(path) is larger than \(limit) bytes: it is not a backup")
        }
        // Read until end of file, never past the limit (the file may grow after fstat).
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size) + 1)
        var length = 0
        while true {
            if length == bytes.count {
                guard bytes.count <= limit else {
                    throw VaultError(.integrityFailure, "\(path) is larger than \(limit) bytes: it is not a backup")
                }
                bytes += [UInt8](repeating: 0, count: min(bytes.count, limit + 1 - bytes.count))
            }
            let n = bytes.withUnsafeMutableBytes { readSome(fd, $0.baseAddress! + length, $0.count - length) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                throw VaultError(.storage, "reading the backup \(path) failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            length += n
        }
        bytes.removeSubrange(length...)
        return bytes
    }

    private static func directoryOf(_ path: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        return directory.isEmpty ? "." : directory
    }
}

/// `write(2)`, named apart from ``BackupFile/write(_:to:overwrite:)``.
private func writeSome(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }

/// `read(2)`, named apart from ``BackupFile/read(_:)``.
private func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(fd, buffer, count) }
