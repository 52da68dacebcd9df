/// A data key: 32 random bytes (mlocked) and the id records name it by.
package struct DataKey: Sendable {
    package var id: UInt32
    package var bytes: SecureBytes

    package init(id: UInt32, bytes: SecureBytes) {
        self.id = id
        self.bytes = bytes
    }

    package static func generate(id: UInt32) -> DataKey {
        DataKey(id: id, bytes: SecureBytes.random(count: Sodium.aeadKeyBytes, locked: true))
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    /// `length (u32 BE) ‖ UTF-8 bytes`.
    mutating func appendLengthPrefixed(_ text: String) {
        appendBigEndian(UInt32(clamping: text.utf8.count))
        append(contentsOf: text.utf8)
    }
}
