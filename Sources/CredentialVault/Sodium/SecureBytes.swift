internal import CSodium

/// A buffer for key material and plaintext secrets.
///
/// The bytes are reachable only through ``withUnsafeBytes(_:)``; they are wiped with `sodium_memzero`
/// when the last reference goes away. Comparison runs in constant time. `description`, `debugDescription`
/// and reflection never show the contents.
///
/// Buffers created with `locked: true` are also `mlock`ed (kept out of swap) where the process limit allows.
public final class SecureBytes: @unchecked Sendable {
    // Written only during initialisation; read-only afterwards, which is what makes the type Sendable.
    private let storage: UnsafeMutableRawBufferPointer
    private let isLocked: Bool

    /// Number of bytes held.
    public var count: Int { storage.count }

    /// Whether the buffer holds no bytes.
    public var isEmpty: Bool { storage.isEmpty }

    /// Allocates `count` bytes and lets `initializer` fill them. If the initializer throws, the partially
    /// written bytes are wiped before the error propagates.
    public init(
        count: Int,
        locked: Bool = false,
        initializer: (UnsafeMutableRawBufferPointer) throws -> Void
    ) rethrows {
        precondition(count >= 0, "negative SecureBytes count")
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        let exact = UnsafeMutableRawBufferPointer(rebasing: storage[0..<count])
        exact.initializeMemory(as: UInt8.self, repeating: 0)
        var lockedOK = false
        if locked && count > 0 {
            lockedOK = sodium_mlock(exact.baseAddress!, count) == 0
        }
        do {
            try initializer(exact)
        } catch {
            Self.wipe(exact, locked: lockedOK)
            storage.deallocate()
            throw error
        }
        self.storage = exact
        self.isLocked = lockedOK
    }

    /// Copies `bytes` into a new buffer. The caller remains responsible for wiping its own copy.
    public convenience init(copying bytes: UnsafeRawBufferPointer, locked: Bool = false) {
        self.init(count: bytes.count, locked: locked) { dst in
            if !bytes.isEmpty { dst.copyMemory(from: bytes) }
        }
    }

    /// Copies the UTF-8 bytes of `string`. Only for the very edge of the program (a value the user typed
    /// into a test, say): the `String` itself cannot be wiped.
    public convenience init(utf8 string: String) {
        var copy = string
        self.init(count: copy.utf8.count) { dst in
            copy.withUTF8 { src in
                if src.count > 0 { dst.copyMemory(from: UnsafeRawBufferPointer(src)) }
            }
        }
    }

    /// `count` bytes from libsodium's CSPRNG (`randombytes_buf`).
    public static func random(count: Int, locked: Bool = false) -> SecureBytes {
        Sodium.ensureInitialized()
        return SecureBytes(count: count, locked: locked) { buffer in
            if buffer.count > 0 { randombytes_buf(buffer.baseAddress!, buffer.count) }
        }
    }

    deinit {
        Self.wipe(storage, locked: isLocked)
        storage.deallocate()
    }

    private static func wipe(_ buffer: UnsafeMutableRawBufferPointer, locked: Bool) {
        guard buffer.count > 0 else { return }
        if locked {
            // sodium_munlock zeroes the memory before unlocking it.
            _ = sodium_munlock(buffer.baseAddress!, buffer.count)
        } else {
            sodium_memzero(buffer.baseAddress!, buffer.count)
        }
    }

    /// Calls `body` with the bytes. The pointer must not escape the closure.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(storage))
    }

    /// A new buffer holding `range` of this one (`mlock`ed with `locked`).
    public func slice(_ range: Range<Int>, locked: Bool = false) -> SecureBytes {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "SecureBytes slice out of bounds")
        return SecureBytes(count: range.count, locked: locked) { dst in
            if !range.isEmpty {
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: storage[range]))
            }
        }
    }

    /// A new buffer without one trailing `\n` or `\r\n`, the way a secret read from a file is taken.
    public func strippingOneTrailingNewline() -> SecureBytes {
        let n = count
        let bytes = UnsafeRawBufferPointer(storage)
        if n >= 2 && bytes[n - 2] == 0x0D && bytes[n - 1] == 0x0A { return slice(0..<(n - 2)) }
        if n >= 1 && bytes[n - 1] == 0x0A { return slice(0..<(n - 1)) }
        return self
    }

    /// Standard base64 (with padding) of the bytes, in a new wipeable buffer.
    public func base64Encoded() -> SecureBytes { Sodium.base64Encode(self) }

    /// The concatenation of `parts`, in a new wipeable buffer (no intermediate copy outside one).
    public static func concatenating(_ parts: [SecureBytes]) -> SecureBytes {
        SecureBytes(count: parts.reduce(0) { $0 + $1.count }) { out in
            var offset = 0
            for part in parts {
                part.withUnsafeBytes { bytes in
                    if !bytes.isEmpty {
                        UnsafeMutableRawBufferPointer(rebasing: out[offset..<(offset + bytes.count)]).copyMemory(
                            from: bytes
                        )
                    }
                }
                offset += part.count
            }
        }
    }

    /// Whether the bytes contain `byte`; used to reject NUL or newline characters in secrets.
    public func contains(byte: UInt8) -> Bool {
        UnsafeRawBufferPointer(storage).contains(byte)
    }

    /// The bytes as a `String`, for the edges that need one (an HTTP form body, output the user asked for).
    /// Returns `nil` when the bytes are not valid UTF-8.
    public func unsafeStringValue() -> String? {
        String(validating: UnsafeRawBufferPointer(storage).bindMemory(to: UInt8.self), as: UTF8.self)
    }
}

extension SecureBytes: Equatable {
    /// Constant-time comparison (`sodium_memcmp`); buffers of different length are unequal.
    public static func == (lhs: SecureBytes, rhs: SecureBytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.count == 0 { return true }
        return sodium_memcmp(lhs.storage.baseAddress!, rhs.storage.baseAddress!, lhs.count) == 0
    }
}

extension SecureBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Always `<redacted>`.
    public var description: String { "<redacted>" }
    /// Always `SecureBytes(<redacted>)`.
    public var debugDescription: String { "SecureBytes(<redacted>)" }
    /// A mirror with no children, so `dump` shows nothing of the contents.
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
