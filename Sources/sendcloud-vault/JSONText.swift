import Foundation

/// The CLI's JSON writer: compact, keys sorted by code point (the same on every machine and locale), `/` not
/// escaped, and every character that could drive a terminal written as a `\uXXXX` escape (``Output/drivesTerminal(_:)``:
/// C0 and C1 controls, DEL, bidi and other format characters, line separators), besides `"` and `\`.
///
/// It replaces `JSONSerialization`, whose sorted keys compare through an ICU collator per key pair: 300 µs per
/// account of `list --json` (BENCHMARKS.md, "Scale"). Values are what the commands build: `String`, `Bool`, integers,
/// `Double`, `NSNull`, arrays and `[String: Any]`; anything else is a programming error.
enum JSONText {
    static func encode(_ value: Any) -> Data {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(value, to: &out)
        return Data(out)
    }

    private static func write(_ value: Any, to out: inout [UInt8]) {
        switch value {
        case let text as String:
            writeString(text, to: &out)
        case let flag as Bool:
            out.append(contentsOf: (flag ? "true" : "false").utf8)
        case let number as any BinaryInteger:
            out.append(contentsOf: String(number).utf8)
        case let number as Double:
            precondition(number.isFinite, "JSON has no \(number)")
            if number == number.rounded(), abs(number) < 9.0e15 {
                out.append(contentsOf: String(Int64(number)).utf8)
            } else {
                out.append(contentsOf: String(number).utf8)
            }
        case let object as [String: Any]:
            out.append(UInt8(ascii: "{"))
            for (index, key) in object.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(object[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        case let array as [Any]:
            out.append(UInt8(ascii: "["))
            for (index, element) in array.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                write(element, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        // Last: a test against a class makes Swift try to bridge the value to an Objective-C object first (a whole
        // dictionary to an NSDictionary): a third of `list --json`'s time when it came before the others.
        case is NSNull:
            out.append(contentsOf: "null".utf8)
        case Optional<Any>.none:
            out.append(contentsOf: "null".utf8)
        default:
            preconditionFailure("JSONText cannot encode a \(type(of: value))")
        }
    }

    private static func writeString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out.append(contentsOf: #"\""#.utf8)
            case "\\": out.append(contentsOf: #"\\"#.utf8)
            case "\n": out.append(contentsOf: #"\n"#.utf8)
            case "\r": out.append(contentsOf: #"\r"#.utf8)
            case "\t": out.append(contentsOf: #"\t"#.utf8)
            case _ where scalar.isASCII && scalar.value >= 0x20 && scalar.value != 0x7F:
                out.append(UInt8(scalar.value))
            case _ where Output.drivesTerminal(scalar):
                for unit in String(scalar).utf16 { out.append(contentsOf: escape(unit)) }
            default:
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `\u` and four lowercase hex digits.
    private static func escape(_ unit: UInt16) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return Array(#"\u"#.utf8) + [12, 8, 4, 0].map { digits[Int((unit >> $0) & 0xF)] }
    }
}
