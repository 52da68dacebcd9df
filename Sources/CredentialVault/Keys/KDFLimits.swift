import Foundation

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
