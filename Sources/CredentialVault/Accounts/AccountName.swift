/// A validated account (tenant) name: 1–128 ASCII letters, digits, `.`, `_`, `-` or `@`, starting with a letter
/// or digit.
public struct AccountName: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The name as given.
    public let rawValue: String

    /// Validates `rawValue`; throws ``VaultError/Code/invalidInput`` if it breaks the rules.
    public init(_ rawValue: String) throws(VaultError) {
        let bytes = Array(rawValue.utf8)
        guard (1...128).contains(bytes.count) else {
            throw .invalid("an account name has 1 to 128 characters")
        }
        func isAlnum(_ b: UInt8) -> Bool {
            (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
        }
        guard isAlnum(bytes[0]) else {
            throw .invalid("an account name starts with a letter or digit")
        }
        for b in bytes
        where
            !(isAlnum(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_")
            || b == UInt8(ascii: "-") || b == UInt8(ascii: "@"))
        {
            _ = b
            throw .invalid("an account name may hold only ASCII letters, digits, '.', '_', '-' and '@'")
        }
        self.rawValue = rawValue
    }

    /// For literals in code and tests; traps on an invalid name.
    public init(stringLiteral value: String) {
        do { try self.init(value) } catch { preconditionFailure("invalid account name literal: \(error)") }
    }

    /// The name.
    public var description: String { rawValue }

    /// Orders by the raw name.
    public static func < (lhs: AccountName, rhs: AccountName) -> Bool { lhs.rawValue < rhs.rawValue }
}
