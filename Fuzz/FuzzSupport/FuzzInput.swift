/// Reads a fuzz input front to back. Every read succeeds: past the end it yields zeros or empty slices, so that
/// a harness never has to reject an input for being short.
package struct FuzzInput {
    private let bytes: [UInt8]
    private var offset = 0

    package init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Whether every byte was read.
    package var isAtEnd: Bool { offset >= bytes.count }

    /// The next byte, or 0 at the end.
    package mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// The next `count` bytes, fewer at the end.
    package mutating func bytes(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, offset + max(count, 0))
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    /// The next 8 bytes as a little-endian integer (missing bytes are zero).
    package mutating func uint64() -> UInt64 {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 8) { value |= UInt64(byte()) << UInt64(shift) }
        return value
    }

    /// A chunk prefixed by a 2-byte little-endian length (clamped to what is left).
    package mutating func chunk() -> [UInt8] {
        let count = Int(byte()) | Int(byte()) << 8
        return bytes(count)
    }

    /// Everything not read yet.
    package mutating func rest() -> [UInt8] { bytes(bytes.count - offset) }
}

/// Builds inputs in the format ``FuzzInput`` reads (for seeds).
package struct FuzzInputWriter {
    package private(set) var bytes: [UInt8] = []

    package init() {}

    package mutating func byte(_ value: UInt8) { bytes.append(value) }

    package mutating func uint64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    package mutating func chunk(_ value: [UInt8]) {
        let value = value.prefix(0xFFFF)
        bytes += [UInt8(value.count & 0xFF), UInt8(value.count >> 8)]
        bytes += value
    }
}
