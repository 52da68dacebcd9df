import Foundation

/// Reads what ``BackupEncoder`` wrote from an opened chunk. Every length is checked against what is left before
/// anything is allocated, so a chunk can make it allocate no more than its own size; anything malformed is an
/// integrity failure naming the chunk.
struct BackupDecoder {
    private let buffer: SecureBytes
    private var offset = 0
    /// The chunk's name for messages (`record 3`).
    private let what: String

    init(_ buffer: SecureBytes, what: String) {
        self.buffer = buffer
        self.what = what
    }

    private var remaining: Int { buffer.count - offset }

    func malformed(_ problem: String) -> VaultError { .integrity("\(what) of the backup is malformed: \(problem)") }

    private mutating func take(_ count: Int) throws(VaultError) -> [UInt8] {
        guard count <= remaining else { throw malformed("it ends too early") }
        defer { offset += count }
        return buffer.withUnsafeBytes { Array($0[offset..<(offset + count)]) }
    }

    mutating func byte() throws(VaultError) -> UInt8 { try take(1)[0] }

    mutating func uint32() throws(VaultError) -> UInt32 { try take(4).reduce(0) { $0 << 8 | UInt32($1) } }

    mutating func uint64() throws(VaultError) -> UInt64 { try take(8).reduce(0) { $0 << 8 | UInt64($1) } }

    mutating func int64() throws(VaultError) -> Int64 { Int64(bitPattern: try uint64()) }

    private mutating func present() throws(VaultError) -> Bool {
        switch try byte() {
        case 0: return false
        case 1: return true
        default: throw malformed("a presence flag is neither 0 nor 1")
        }
    }

    mutating func date() throws(VaultError) -> Date {
        let seconds = Double(bitPattern: try uint64())
        guard seconds.isFinite else { throw malformed("a date is not a finite number") }
        return Date(timeIntervalSince1970: seconds)
    }

    mutating func optionalDate() throws(VaultError) -> Date? { try present() ? try date() : nil }

    mutating func bytes() throws(VaultError) -> [UInt8] {
        let count = Int(try uint32())
        guard count <= remaining else { throw malformed("a length runs past its end") }
        return try take(count)
    }

    mutating func string() throws(VaultError) -> String {
        guard let text = String(validating: try bytes(), as: UTF8.self) else {
            throw malformed("a text field is not UTF-8")
        }
        return text
    }

    mutating func optionalString() throws(VaultError) -> String? { try present() ? try string() : nil }

    /// A secret, copied straight from the opened chunk into its own wipeable buffer.
    mutating func optionalSecret() throws(VaultError) -> SecureBytes? {
        guard try present() else { return nil }
        let count = Int(try uint32())
        guard count <= remaining else { throw malformed("a length runs past its end") }
        defer { offset += count }
        return buffer.slice(offset..<(offset + count))
    }

    /// Requires that every byte was read.
    func finish() throws(VaultError) {
        guard remaining == 0 else { throw malformed("\(remaining) unexpected byte(s) at its end") }
    }
}
