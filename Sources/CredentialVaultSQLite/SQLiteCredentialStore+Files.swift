import CredentialVault
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The vault file and its folder: created private, and refused when others could read or replace them.
extension SQLiteCredentialStore {
    /// Returns whether it created the file.
    static func createFileIfMissing(_ path: String) throws -> Bool {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try createDirectories(directory)
        }
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        if fd >= 0 {
            closeDescriptor(fd)
            return true
        } else if errno != EEXIST {
            throw VaultError(.storage, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        return false
    }

    /// Creates each missing directory of `directory` with mode 0700; existing ones are left as they are.
    static func createDirectories(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw VaultError(.storage, "\(directory) is not a directory") }
            return
        }
        // Not NSString.deletingLastPathComponent: swift-corelibs-foundation traps on a single relative component
        // ("v" of `--vault v/vault.sqlite`).
        let parent = directory.lastIndex(of: "/").map { String(directory[..<$0]) } ?? ""
        if !parent.isEmpty && parent != directory { try createDirectories(parent) }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw VaultError(.storage, "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// Refuses (``VaultError/Code/unsafePermissions``, or ``VaultError/Code/noVault`` when missing) a vault
    /// file that is not a regular file of this user with no group/other permission bit and exactly one hard link
    /// (SQLite's WAL goes by name); the same for its `-wal` and
    /// `-shm` files when they exist (SQLite reads a WAL file as part of the vault: a writable one is a writable
    /// vault); and a vault folder that is not this user's (or root's) or that group or others may write (they could
    /// replace the file or plant a `-wal` before SQLite creates one). A readable folder is fine.
    static func checkPermissions(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { throw VaultError(.noVault, "no vault at \(path)") }
            throw VaultError(.storage, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        try checkPrivateFile(path, st, what: "a vault")
        // SQLite keeps a WAL file per *name*: through two hard links two processes would each read their own WAL
        // and miss the other's commits (an already spent refresh token, say), whatever lock they share.
        guard st.st_nlink == 1 else {
            throw VaultError(
                .unsafePermissions,
                "\(path) has \(st.st_nlink) hard links; a vault must have exactly one name (use a symlink instead)"
            )
        }
        let real = realPath(path)
        for suffix in ["-wal", "-shm"] {
            let companion = real + suffix
            var cst = stat()
            guard lstat(companion, &cst) == 0 else { continue }
            try checkPrivateFile(companion, cst, what: "the vault's \(suffix) file")
        }
        let folder = (real as NSString).deletingLastPathComponent
        var dst = stat()
        guard stat(folder.isEmpty ? "." : folder, &dst) == 0 else {
            throw VaultError(.storage, "cannot read \(folder): \(String(cString: strerror(errno)))")
        }
        guard dst.st_uid == geteuid() || dst.st_uid == 0, dst.st_mode & 0o022 == 0 else {
            throw VaultError(
                .unsafePermissions,
                "the vault's folder \(folder) must belong to this user (or root) and must not be writable by group "
                    + "or others (chmod go-w \(folder))"
            )
        }
        guard access(folder.isEmpty ? "." : folder, W_OK | X_OK) == 0 else {
            throw VaultError(
                .unsafePermissions,
                "the vault's folder \(folder) is not writable by this user: SQLite keeps the vault's -wal and -shm "
                    + "files beside the vault"
            )
        }
    }

    static func checkPrivateFile(_ path: String, _ st: stat, what: String) throws {
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw VaultError(.unsafePermissions, "\(path) is not a regular file")
        }
        guard st.st_uid == geteuid() else {
            throw VaultError(
                .unsafePermissions,
                "\(path) belongs to uid \(st.st_uid), not to this user (uid \(geteuid())); \(what) file must be "
                    + "this user's"
            )
        }
        let mode = st.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw VaultError(
                .unsafePermissions,
                "\(path) has mode \(String(mode, radix: 8)); \(what) file must not be readable or writable by group "
                    + "or others (chmod 600 \(path))"
            )
        }
    }

    /// `path` through any symlinks (SQLite puts `-wal`/`-shm` beside the real file), or `path` itself.
    static func realPath(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }

}

/// `close(2)`, outside the store type so that its `close()` does not shadow it.
func closeDescriptor(_ fd: Int32) { _ = close(fd) }
