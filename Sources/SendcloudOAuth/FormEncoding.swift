import CredentialVault
import Foundation

/// `application/x-www-form-urlencoded` encoding (WHATWG / RFC 6749 Appendix B): unreserved bytes as they are,
/// space as `+`, everything else `%XX`. Works on bytes so that secrets need not become `String`s.
package enum FormEncoding {
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default: false
        }
    }

    static func append(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in bytes {
            if isUnreserved(byte) {
                out.append(byte)
            } else if byte == 0x20 {
                out.append(UInt8(ascii: "+"))
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
    }

    /// Encodes `fields` in order as `k=v&k=v` into a wipeable buffer.
    static func encode(_ fields: [(String, FormValue)]) -> SecureBytes {
        var out: [UInt8] = []
        // Reserve the worst case (every byte %XX) so that the array never reallocates and leaves unwiped copies.
        out.reserveCapacity(
            fields.reduce(0) { total, field in
                let valueCount: Int
                switch field.1 {
                case .text(let text): valueCount = text.utf8.count
                case .secret(let secret): valueCount = secret.count
                }
                return total + 3 * (field.0.utf8.count + valueCount) + 2
            }
        )
        defer { out.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "&")) }
            Array(key.utf8).withUnsafeBytes { append($0, to: &out) }
            out.append(UInt8(ascii: "="))
            switch value {
            case .text(let text): Array(text.utf8).withUnsafeBytes { append($0, to: &out) }
            case .secret(let secret): secret.withUnsafeBytes { append($0, to: &out) }
            }
        }
        return out.withUnsafeBytes { SecureBytes(copying: $0) }
    }

    enum FormValue {
        case text(String)
        case secret(SecureBytes)
    }

    /// `Basic base64(urlencode(id):urlencode(secret))`, RFC 6749 §2.3.1.
    static func basicAuthorization(clientID: String, clientSecret: SecureBytes) -> String {
        var raw: [UInt8] = []
        raw.reserveCapacity(3 * (clientID.utf8.count + clientSecret.count) + 1)
        defer { raw.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        Array(clientID.utf8).withUnsafeBytes { append($0, to: &raw) }
        raw.append(UInt8(ascii: ":"))
        clientSecret.withUnsafeBytes { append($0, to: &raw) }
        // base64 into a wipeable buffer; only the header value itself must be a `String` (HTTPHeaders holds those).
        let encoded = raw.withUnsafeBytes { SecureBytes(copying: $0) }.base64Encoded()
        return "Basic " + (encoded.unsafeStringValue() ?? "")
    }

    /// Decodes a query string or form body into pairs (for the loopback redirect).
    package static func decode(_ query: Substring) -> [(String, String)] {
        query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func unescape(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            return (unescape(parts[0]), parts.count > 1 ? unescape(parts[1]) : "")
        }
    }

    /// A query string from text pairs.
    static func query(_ fields: [(String, String)]) -> String {
        var out: [UInt8] = []
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: "&")) }
            Array(key.utf8).withUnsafeBytes { append($0, to: &out) }
            out.append(UInt8(ascii: "="))
            Array(value.utf8).withUnsafeBytes { append($0, to: &out) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
