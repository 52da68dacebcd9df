/// The clear header of a backup file (format version 1), 130 bytes:
///
/// | offset | bytes | field |
/// |---|---|---|
/// | 0 | 8 | magic `SCVBACKP` |
/// | 8 | 1 | format version (1) |
/// | 9 | 1 | secret kind: 1 passphrase, 2 key file |
/// | 10 | 16 | salt (Argon2id salt for a passphrase; key-derivation salt for both kinds) |
/// | 26 | 8 | Argon2id pass count (u64 BE; 0 for a key file) |
/// | 34 | 8 | Argon2id memory in bytes (u64 BE; 0 for a key file) |
/// | 42 | 24 | `crypto_secretstream_xchacha20poly1305` header |
/// | 66 | 32 | key check: keyed BLAKE2b-256 of bytes 0..<66 under a key derived from the secret |
/// | 98 | 32 | checksum: BLAKE2b-256 of bytes 0..<98 |
///
/// Chunks follow: `length (u32 BE) ‖ secretstream ciphertext`, the first (the manifest) authenticated with all 130
/// header bytes as associated data. The checksum tells a damaged header (integrity failure) from a wrong secret (the
/// key check fails on an intact header); the header is authenticated for real by the first chunk.
struct BackupHeader: Sendable {
    static let magic: [UInt8] = Array("SCVBACKP".utf8)
    static let currentVersion: UInt8 = 1
    static let saltBytes = 16
    static let checkBytes = 32
    /// Bytes 0..<66: what the key check covers.
    static let fieldsSize = 8 + 1 + 1 + saltBytes + 8 + 8 + Sodium.secretStreamHeaderBytes
    /// The whole header.
    static let size = fieldsSize + checkBytes + checkBytes

    var kind: BackupSecret.Kind
    var salt: [UInt8]
    /// `nil` for a key file.
    var limits: KDFLimits?
    var streamHeader: [UInt8]

    /// Bytes 0..<66.
    func fields() -> [UInt8] {
        var out = Self.magic
        out.append(Self.currentVersion)
        out.append(kind.rawValue)
        out += salt
        out.appendBigEndian(limits?.opsLimit ?? 0)
        out.appendBigEndian(limits?.memLimit ?? 0)
        out += streamHeader
        return out
    }

    /// The whole header: ``fields()``, `keyCheck` and the checksum over both.
    func encoded(keyCheck: [UInt8]) -> [UInt8] {
        precondition(keyCheck.count == Self.checkBytes)
        let checked = fields() + keyCheck
        return checked + Sodium.checksum(checked, outputBytes: Self.checkBytes)
    }

    /// Parses and checks the first ``size`` bytes of `bytes` — magic, version, checksum, kind, KDF limits (bounded as
    /// ``KDFLimits`` bounds a slot's, before any work) — and returns the header with its key check.
    /// - Throws: ``VaultError/Code/integrityFailure`` for anything malformed.
    static func parse(_ bytes: [UInt8]) throws(VaultError) -> (header: BackupHeader, keyCheck: [UInt8]) {
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            throw .integrity("the file is not a sendcloud-vault backup (no backup header)")
        }
        guard bytes.count >= size else {
            throw .integrity("the backup is truncated: it ends inside its \(size)-byte header")
        }
        var reader = ByteReader(bytes[0..<size])
        _ = reader.take(magic.count)
        let version = reader.byte()
        guard version == currentVersion else {
            throw .integrity(
                "the backup has format version \(version); this version of sendcloud-vault reads version "
                    + "\(currentVersion)"
            )
        }
        let checked = Array(bytes[0..<(fieldsSize + checkBytes)])
        guard Array(bytes[(fieldsSize + checkBytes)..<size]) == Sodium.checksum(checked, outputBytes: checkBytes)
        else { throw .integrity("the backup header is damaged or was tampered with (its checksum does not match)") }
        let kindByte = reader.byte()
        guard let kind = BackupSecret.Kind(rawValue: kindByte) else {
            throw .integrity("the backup header names an unknown secret kind \(kindByte)")
        }
        let salt = reader.take(saltBytes)
        let ops = reader.uint64()
        let mem = reader.uint64()
        let streamHeader = reader.take(Sodium.secretStreamHeaderBytes)
        let keyCheck = reader.take(checkBytes)
        let limits: KDFLimits?
        switch kind {
        case .passphrase:
            do { limits = try KDFLimits(opsLimit: ops, memLimit: mem) } catch {
                throw .integrity("the backup asks for out-of-bounds KDF limits: \(error.message)")
            }
        case .keyFile:
            guard ops == 0 && mem == 0 else { throw .integrity("the backup header has KDF limits for a key file") }
            limits = nil
        }
        return (BackupHeader(kind: kind, salt: salt, limits: limits, streamHeader: streamHeader), keyCheck)
    }
}

/// Reads fixed-size big-endian fields from bytes whose length was checked beforehand.
private struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private var offset: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        offset = bytes.startIndex
    }

    mutating func take(_ count: Int) -> [UInt8] {
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    mutating func byte() -> UInt8 { take(1)[0] }

    mutating func uint64() -> UInt64 { take(8).reduce(0) { $0 << 8 | UInt64($1) } }
}
