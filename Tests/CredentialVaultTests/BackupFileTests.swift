import Foundation
import Testing

@testable import CredentialVault

#if canImport(Glibc)
import Glibc
#endif

/// Writing and reading backup files (``BackupFile``): atomic, private, never over an existing file unless asked,
/// bounded when reading.
@Suite("Backup files")
struct BackupFileTests {
    let directory: TempDir

    init() throws { directory = try TempDir(prefix: "backup-file") }

    func mode(_ path: String) -> mode_t {
        var st = stat()
        guard stat(path, &st) == 0 else { return 0o7777 }
        return st.st_mode & 0o7777
    }

    func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() }

    @Test("the file is written 0600 (whatever the umask), read back byte for byte, and no temporary file is left")
    func writesPrivately() throws {
        let path = directory.file("vault.scvb")
        let bytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let old = umask(0)
        defer { umask(old) }
        try BackupFile.write(bytes, to: path, overwrite: false)
        #expect(mode(path) == 0o600)
        #expect(try BackupFile.read(path) == bytes)
        #expect(try names() == ["vault.scvb"])
    }

    @Test("an existing file is refused (alreadyExists) and left as it was unless overwrite; overwrite replaces it")
    func existingFile() throws {
        let path = directory.file("vault.scvb")
        try BackupFile.write([1, 2, 3], to: path, overwrite: false)
        expectVaultError(.alreadyExists) { try BackupFile.write([9], to: path, overwrite: false) }
        #expect(try BackupFile.read(path) == [1, 2, 3])
        try BackupFile.write([4, 5], to: path, overwrite: true)
        #expect(try BackupFile.read(path) == [4, 5])
        #expect(mode(path) == 0o600)
        #expect(try names() == ["vault.scvb"])
        // A symlink at the name counts as existing: nothing is written through it.
        let target = directory.file("target")
        let link = directory.file("link.scvb")
        #expect(symlink(target, link) == 0)
        expectVaultError(.alreadyExists) { try BackupFile.write([7], to: link, overwrite: false) }
        #expect(!FileManager.default.fileExists(atPath: target))
        expectVaultError(.invalidInput) { try BackupFile.write([7], to: link, overwrite: true) }
    }

    @Test("a directory group or others can write is refused unless sticky; a missing directory is notFound")
    func directoryRules() throws {
        let open = directory.file("shared")
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: false)
        for bits: mode_t in [0o770, 0o707, 0o777] {
            #expect(chmod(open, bits) == 0)
            expectVaultError(.unsafePermissions) { try BackupFile.write([1], to: open + "/b", overwrite: false) }
        }
        #expect(chmod(open, 0o1777) == 0)
        try BackupFile.write([1], to: open + "/b", overwrite: false)
        #expect(mode(open + "/b") == 0o600)
        expectVaultError(.notFound) { try BackupFile.write([1], to: directory.file("missing/b"), overwrite: false) }
    }

    @Test("reading: a missing file is notFound, a directory invalidInput, a file over the size limit refused unread")
    func readingBounds() throws {
        expectVaultError(.notFound) { try BackupFile.read(directory.file("none")) }
        expectVaultError(.invalidInput) { try BackupFile.read(directory.path) }
        let big = directory.file("big")
        #expect(FileManager.default.createFile(atPath: big, contents: nil))
        #expect(truncate(big, off_t(VaultBackup.maximumFileSize + 1)) == 0)  // sparse: nothing is really written
        expectVaultError(.integrityFailure) { try BackupFile.read(big) }
        #expect(truncate(big, 0) == 0)
        #expect(try BackupFile.read(big) == [])
    }
}
