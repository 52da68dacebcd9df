import Foundation

/// Builds the plaintext of one backup chunk in wipeable memory: big-endian integers, dates as the bit pattern of
/// their `timeIntervalSince1970` (exact), strings and secrets as `length (u32 BE) ‖ bytes`, optionals behind a
/// presence byte (0 or 1). Metadata passes through ordinary arrays; a secret's bytes only ever through
/// ``SecureBytes``.
struct BackupEncoder {
    private var parts: [SecureBytes] = []
    private var pending: [UInt8] = []

    mutating func append(_ value: UInt8) { pending.append(value) }

    mutating func append<T: FixedWidthInteger>(_ value: T) { pending.appendBigEndian(value) }

    mutating func append(_ date: Date) { pending.appendBigEndian(date.timeIntervalSince1970.bitPattern) }

    mutating func append(_ date: Date?) {
        append(present: date != nil)
        if let date { append(date) }
    }

    mutating func append(_ bytes: [UInt8]) {
        pending.appendBigEndian(UInt32(bytes.count))
        pending += bytes
    }

    mutating func append(_ text: String) { append(Array(text.utf8)) }

    mutating func append(_ text: String?) {
        append(present: text != nil)
        if let text { append(text) }
    }

    mutating func append(secret: SecureBytes?) {
        append(present: secret != nil)
        guard let secret else { return }
        pending.appendBigEndian(UInt32(secret.count))
        flush()
        parts.append(secret)
    }

    private mutating func append(present: Bool) { pending.append(present ? 1 : 0) }

    private mutating func flush() {
        guard !pending.isEmpty else { return }
        parts.append(pending.withUnsafeBytes { SecureBytes(copying: $0) })
        pending = []
    }

    /// The bytes appended, in one wipeable buffer.
    mutating func finish() -> SecureBytes {
        flush()
        return SecureBytes.concatenating(parts)
    }
}
