public import Foundation

/// Argon2id cost limits for a passphrase slot.
public struct KDFLimits: Sendable, Hashable, CustomStringConvertible {
    /// Number of passes.
    public let opsLimit: UInt64
    /// Memory in bytes.
    public let memLimit: UInt64

    /// libsodium's INTERACTIVE limits (2 passes, 64 MiB): the default.
    public static let interactive = KDFLimits(unchecked: Sodium.interactive.ops, Sodium.interactive.mem)
    /// libsodium's MODERATE limits (3 passes, 256 MiB).
    public static let moderate = KDFLimits(unchecked: Sodium.moderate.ops, Sodium.moderate.mem)
    /// libsodium's SENSITIVE limits (4 passes, 1 GiB).
    public static let sensitive = KDFLimits(unchecked: Sodium.sensitive.ops, Sodium.sensitive.mem)

    /// The largest pass count accepted, from a caller or from a vault file.
    public static let maximumOpsLimit: UInt64 = 10
    /// The largest memory accepted (libsodium SENSITIVE, 1 GiB): a vault file cannot ask for more.
    public static let maximumMemLimit: UInt64 = Sodium.sensitive.mem

    /// Checks the limits against libsodium's minimums and this package's maximums before any work is done.
    public init(opsLimit: UInt64, memLimit: UInt64) throws(VaultError) {
        guard opsLimit >= Sodium.argon2idOpsLimitMin, opsLimit <= Self.maximumOpsLimit else {
            throw .invalid(
                "Argon2id pass count \(opsLimit) is outside \(Sodium.argon2idOpsLimitMin)...\(Self.maximumOpsLimit)"
            )
        }
        guard memLimit >= Sodium.argon2idMemLimitMin, memLimit <= Self.maximumMemLimit else {
            throw .invalid(
                "Argon2id memory \(memLimit) bytes is outside \(Sodium.argon2idMemLimitMin)...\(Self.maximumMemLimit)"
            )
        }
        self.opsLimit = opsLimit
        self.memLimit = memLimit
    }

    private init(unchecked ops: UInt64, _ mem: UInt64) {
        opsLimit = ops
        memLimit = mem
    }

    /// `argon2id(ops=…, mem=… MiB)`.
    public var description: String { "argon2id(ops=\(opsLimit), mem=\(memLimit / 1_048_576) MiB)" }
}

/// One way in to the data key: the data key wrapped (XChaCha20-Poly1305) under a passphrase-derived key or a
/// key-file key. Slots can be added and removed without touching any record.
public struct KeySlot: Sendable, Equatable {
    /// How the wrapping key is obtained.
    public enum Kind: Sendable, Equatable {
        /// Argon2id over a passphrase, with the salt and limits as stored (bounded again before use).
        case passphrase(salt: [UInt8], opsLimit: UInt64, memLimit: UInt64)
        /// A 32-byte random key kept in a file or an environment variable.
        case keyFile

        /// `passphrase` or `key-file`.
        public var name: String {
            switch self {
            case .passphrase: "passphrase"
            case .keyFile: "key-file"
            }
        }
    }

    /// The store's id for the slot; `0` before it is stored.
    public var id: Int64
    /// How the wrapping key is obtained.
    public var kind: Kind
    /// The id of the data key this slot wraps.
    public var keyID: UInt32
    /// `version ‖ nonce ‖ wrapped key ‖ tag`.
    public var wrappedKey: [UInt8]
    /// When the slot was made.
    public var createdAt: Date

    /// Creates a slot value (stores use this to rebuild slots they read).
    public init(id: Int64, kind: Kind, keyID: UInt32, wrappedKey: [UInt8], createdAt: Date) {
        self.id = id
        self.kind = kind
        self.keyID = keyID
        self.wrappedKey = wrappedKey
        self.createdAt = createdAt
    }
}

/// A secret that opens a vault.
public enum UnlockSecret: Sendable {
    /// A passphrase; tried against every passphrase slot.
    case passphrase(SecureBytes)
    /// A key-file key; tried against every key-file slot.
    case key(KeyFileKey)
}

/// A key slot to create.
public enum NewKeySlot: Sendable {
    /// A passphrase slot with the given Argon2id limits.
    case passphrase(SecureBytes, KDFLimits = .interactive)
    /// A key-file slot for the given key.
    case key(KeyFileKey)
}

/// Wraps and unwraps data keys in key slots.
package enum SlotCipher {
    static let version: UInt8 = 1

    /// `"SCVK" ‖ version ‖ vault id ‖ key id (u32 BE) ‖ kind ‖ salt ‖ ops (u64 BE) ‖ mem (u64 BE)`.
    static func associatedData(vaultID: [UInt8], keyID: UInt32, kind: KeySlot.Kind) -> [UInt8] {
        var ad: [UInt8] = Array("SCVK".utf8)
        ad.append(version)
        ad += vaultID
        ad.appendBigEndian(keyID)
        switch kind {
        case .passphrase(let salt, let ops, let mem):
            ad.append(1)
            ad += salt
            ad.appendBigEndian(ops)
            ad.appendBigEndian(mem)
        case .keyFile:
            ad.append(2)
        }
        return ad
    }

    /// Makes a slot for `source` that wraps `dataKey`; also returns the wrapping key (so that the caller need not
    /// run the KDF again).
    static func makeSlot(
        _ source: NewKeySlot,
        wrapping dataKey: DataKey,
        vaultID: [UInt8]
    ) throws(VaultError) -> (slot: KeySlot, wrappingKey: SecureBytes) {
        let kind: KeySlot.Kind
        let wrappingKey: SecureBytes
        switch source {
        case .passphrase(let passphrase, let limits):
            guard !passphrase.isEmpty else { throw .invalid("the passphrase is empty") }
            let salt = Sodium.randomBytes(Sodium.pwhashSaltBytes)
            kind = .passphrase(salt: salt, opsLimit: limits.opsLimit, memLimit: limits.memLimit)
            wrappingKey = try derive(passphrase, salt: salt, limits: limits)
        case .key(let key):
            kind = .keyFile
            wrappingKey = key.bytes
        }
        let wrapped = wrap(
            dataKey,
            wrappingKey: wrappingKey,
            vaultID: vaultID,
            kind: kind,
            nonce: Sodium.randomBytes(Sodium.aeadNonceBytes)
        )
        return (KeySlot(id: 0, kind: kind, keyID: dataKey.id, wrappedKey: wrapped, createdAt: Date()), wrappingKey)
    }

    static func wrap(
        _ dataKey: DataKey,
        wrappingKey: SecureBytes,
        vaultID: [UInt8],
        kind: KeySlot.Kind,
        nonce: [UInt8]
    ) -> [UInt8] {
        let ad = associatedData(vaultID: vaultID, keyID: dataKey.id, kind: kind)
        let ct = dataKey.bytes.withUnsafeBytes {
            Sodium.aeadSeal(plaintext: $0, ad: ad, nonce: nonce, key: wrappingKey)
        }
        return [version] + nonce + ct
    }

    /// Whether `secret` is of the kind `slot` takes.
    static func accepts(_ slot: KeySlot, _ secret: UnlockSecret) -> Bool {
        switch (slot.kind, secret) {
        case (.passphrase, .passphrase), (.keyFile, .key): true
        default: false
        }
    }

    /// Argon2id with limits that were already bounded.
    private static func derive(
        _ passphrase: SecureBytes,
        salt: [UInt8],
        limits: KDFLimits
    ) throws(VaultError) -> SecureBytes {
        guard
            let key = Sodium.argon2id(
                passphrase: passphrase,
                salt: salt,
                opsLimit: limits.opsLimit,
                memLimit: limits.memLimit
            )
        else { throw VaultError(.storage, "Argon2id could not allocate \(limits.memLimit) bytes") }
        return key
    }

    /// Derives the wrapping key for `slot` from `secret`, bounding stored KDF limits first.
    static func wrappingKey(for slot: KeySlot, secret: UnlockSecret) throws(VaultError) -> SecureBytes {
        switch (slot.kind, secret) {
        case (.passphrase(let salt, let ops, let mem), .passphrase(let passphrase)):
            guard salt.count == Sodium.pwhashSaltBytes else {
                throw .integrity("key slot \(slot.id) has a malformed salt")
            }
            let limits: KDFLimits
            do { limits = try KDFLimits(opsLimit: ops, memLimit: mem) } catch {
                throw .integrity("key slot \(slot.id) asks for out-of-bounds KDF limits: \(error.message)")
            }
            return try derive(passphrase, salt: salt, limits: limits)
        case (.keyFile, .key(let key)):
            return key.bytes
        default:
            throw .wrongKey()
        }
    }

    /// Checks what can be checked without the secret: the wrapped key's version and length, a passphrase slot's salt
    /// length and KDF limits. Throws ``VaultError/Code/integrityFailure`` naming the slot.
    static func validate(_ slot: KeySlot) throws(VaultError) {
        let b = slot.wrappedKey
        guard b.count == 1 + Sodium.aeadNonceBytes + Sodium.aeadKeyBytes + Sodium.aeadTagBytes, b[0] == version else {
            throw .integrity("key slot \(slot.id) is malformed")
        }
        if case .passphrase(let salt, let ops, let mem) = slot.kind {
            guard salt.count == Sodium.pwhashSaltBytes else {
                throw .integrity("key slot \(slot.id) has a malformed salt")
            }
            do { _ = try KDFLimits(opsLimit: ops, memLimit: mem) } catch {
                throw .integrity("key slot \(slot.id) asks for out-of-bounds KDF limits: \(error.message)")
            }
        }
    }

    /// Opens `slot` with `wrappingKey`; `nil` when the key is wrong (or the slot was altered).
    package static func unwrap(
        _ slot: KeySlot,
        wrappingKey: SecureBytes,
        vaultID: [UInt8]
    ) throws(VaultError) -> DataKey? {
        let b = slot.wrappedKey
        let header = 1 + Sodium.aeadNonceBytes
        guard b.count == header + Sodium.aeadKeyBytes + Sodium.aeadTagBytes, b[0] == version else {
            throw .integrity("key slot \(slot.id) is malformed")
        }
        let ad = associatedData(vaultID: vaultID, keyID: slot.keyID, kind: slot.kind)
        guard
            let key = Sodium.aeadOpen(
                ciphertext: b[header...],
                ad: ad,
                nonce: b[1..<header],
                key: wrappingKey,
                locked: true
            )
        else { return nil }
        return DataKey(id: slot.keyID, bytes: key)
    }
}
