#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension VaultUnlockSource {
    /// The largest secret file accepted.
    public static let maximumSecretFileSize = 64 * 1024

    /// Reads a secret file the way unlock sources are read (`-` = standard input); the CLI reads its other secret
    /// files (client secrets, refresh tokens) with it too.
    ///
    /// The file must be a regular file; with `requirePrivate`, also without any group or other permission bit. One
    /// trailing `\n` or `\r\n` is stripped; the rest must be non-empty, at most ``maximumSecretFileSize`` bytes and
    /// free of NUL bytes. Read buffers are wiped.
    /// - Parameters:
    ///   - what: the secret's name for messages (`vault key`, `passphrase`, `client secret`).
    ///   - requirePrivate: refuse (``VaultError/Code/unsafePermissions``) a file with mode & 077 ≠ 0. Ignored for
    ///     standard input.
    /// - Throws: ``VaultError``: ``VaultError/Code/notFound`` (cannot open), ``VaultError/Code/invalidInput`` (not a
    ///   regular file, empty, too large, a NUL byte), ``VaultError/Code/unsafePermissions``,
    ///   ``VaultError/Code/storage`` (a read failed).
    public static func readSecretFile(
        _ path: String,
        what: String,
        requirePrivate: Bool
    ) throws(VaultError)
        -> SecureBytes
    {
        let value: SecureBytes
        if path == "-" {
            value = try readAll(fd: STDIN_FILENO, what: what)
        } else {
            // Non-blocking until it is known to be a regular file: a FIFO must not hang the open.
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else {
                let reason = String(cString: strerror(errno))
                throw VaultError(.notFound, "cannot read the \(what) file \(path): \(reason)")
            }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                throw VaultError(.invalidInput, "the \(what) file \(path) is not a regular file")
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            if requirePrivate && st.st_mode & 0o077 != 0 {
                throw VaultError(
                    .unsafePermissions,
                    "the \(what) file \(path) has mode \(String(st.st_mode & 0o777, radix: 8)); "
                        + "it must not be accessible to group or others (chmod 600 \(path))"
                )
            }
            value = try readAll(fd: fd, what: what)
        }
        return try checkedSecret(value.strippingOneTrailingNewline(), what: what)
    }

    /// Refuses (``VaultError/Code/invalidInput``) an empty secret or one holding a NUL byte.
    public static func checkedSecret(_ value: SecureBytes, what: String) throws(VaultError) -> SecureBytes {
        guard !value.isEmpty else { throw VaultError(.invalidInput, "the \(what) is empty") }
        guard !value.contains(byte: 0) else { throw VaultError(.invalidInput, "the \(what) contains a NUL byte") }
        return value
    }

    private static func readAll(fd: Int32, what: String) throws(VaultError) -> SecureBytes {
        var length = 0
        var failed = false
        let buffer = SecureBytes(count: maximumSecretFileSize + 1) { out in
            while length < out.count {
                let n = read(fd, out.baseAddress! + length, out.count - length)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failed = true }
                if n <= 0 { break }
                length += n
            }
        }
        if failed { throw VaultError(.storage, "reading the \(what) failed: \(String(cString: strerror(errno)))") }
        guard length <= maximumSecretFileSize else {
            throw VaultError(.invalidInput, "the \(what) is larger than \(maximumSecretFileSize) bytes")
        }
        return buffer.slice(0..<length)
    }
}
