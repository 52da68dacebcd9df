import CredentialVault
import Foundation

/// Small codecs used by the fake server: `application/x-www-form-urlencoded`, base64url, SHA-256, random tokens
/// and a tiny ordered JSON writer (Hydra answers with alphabetically ordered keys).
enum Encoding {
    struct MalformedForm: Error {}

    /// Decodes `a=b&c=d` (also a URL query): `+` is a space, `%HH` is a byte, the result must be UTF-8.
    /// When a key repeats, the first value wins (Go's `url.Values.Get`, as in Hydra).
    static func decodeForm(_ string: String) throws(MalformedForm) -> [String: String] {
        var result: [String: String] = [:]
        for pair in string.split(separator: "&", omittingEmptySubsequences: true) {
            let key: Substring
            let value: Substring
            if let equals = pair.firstIndex(of: "=") {
                key = pair[..<equals]
                value = pair[pair.index(after: equals)...]
            } else {
                key = pair
                value = ""
            }
            let decodedKey = try formUnescape(key)
            let decodedValue = try formUnescape(value)
            if result[decodedKey] == nil {
                result[decodedKey] = decodedValue
            }
        }
        return result
    }

    /// Percent-decodes one form component (`+` means space).
    static func formUnescape(_ component: Substring) throws(MalformedForm) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(component.utf8.count)
        var iterator = component.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    throw MalformedForm()
                }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        guard let string = String(validating: bytes, as: UTF8.self) else { throw MalformedForm() }
        return string
    }

    /// Percent-encodes everything except RFC 3986 unreserved characters.
    static func percentEncode(_ string: String) -> String {
        var result = ""
        for byte in string.utf8 {
            if isUnreserved(byte) {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// BASE64URL without padding (RFC 7636 appendix A).
    static func base64URL(_ bytes: [UInt8]) -> String {
        var encoded = Data(bytes).base64EncodedString()
        encoded = encoded.replacingOccurrences(of: "+", with: "-")
        encoded = encoded.replacingOccurrences(of: "/", with: "_")
        while encoded.hasSuffix("=") { encoded.removeLast() }
        return encoded
    }

    /// Standard base64 with padding, as in an `Authorization: Basic` header; nil when malformed.
    static func base64Decode(_ string: String) -> [UInt8]? {
        Data(base64Encoded: string).map { [UInt8]($0) }
    }

    static func sha256(_ bytes: [UInt8]) -> [UInt8] { Sodium.sha256(bytes) }

    /// The S256 code challenge of a PKCE verifier: BASE64URL(SHA256(ASCII(verifier))).
    static func s256Challenge(verifier: String) -> String {
        base64URL(sha256(Array(verifier.utf8)))
    }

    /// A random URL-safe token: the prefix followed by 32 random bytes in base64url.
    static func randomToken(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + base64URL(bytes)
    }

    // MARK: JSON

    enum JSONValue: Sendable, Equatable {
        case string(String)
        case int(Int)
    }

    /// Writes a flat JSON object with the keys in the given order.
    static func json(_ fields: [(String, JSONValue)]) -> String {
        var out = "{"
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { out += "," }
            out += jsonString(key) + ":"
            switch value {
            case .string(let string): out += jsonString(string)
            case .int(let int): out += String(int)
            }
        }
        return out + "}"
    }

    static func jsonString(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u" + String(scalar.value, radix: 16).leftPadded(to: 4)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
