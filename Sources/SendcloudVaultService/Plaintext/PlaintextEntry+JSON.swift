public import Foundation

extension PlaintextEntry {
    /// A failure to read a plaintext source as a whole (not one entry's problem): the file cannot be read, or it is not
    /// an array of objects. Never holds a value of the source.
    public struct ReadError: Error, Sendable, CustomStringConvertible {
        /// Whether the file could not be read at all (CLI exit 66) rather than read and found malformed (65).
        public var isUnreadable: Bool
        /// What is wrong, naming the file and element positions only.
        public var description: String
    }

    /// The largest JSON file read.
    public static let maximumJSONBytes = 64 << 20

    /// The entries of a JSON file holding an array of objects (DESIGN §6's plaintext format), in order. A field set to
    /// `null` counts as absent; keys that are not ``fields`` are counted, not kept.
    public static func entries(jsonFile path: String) throws(ReadError) -> [PlaintextEntry] {
        // Non-blocking until it is known to be a regular file: a FIFO must not hang the open.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw ReadError(isUnreadable: true, description: "cannot open \(path)") }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ReadError(isUnreadable: true, description: "\(path) is not a regular file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        let data: Data
        do { data = try handle.read(upToCount: maximumJSONBytes + 1) ?? Data() } catch {
            throw ReadError(isUnreadable: true, description: "cannot read \(path)")
        }
        guard data.count <= maximumJSONBytes else {
            throw ReadError(isUnreadable: false, description: "\(path) is larger than 64 MiB")
        }
        return try entries(json: data, source: path)
    }

    /// The entries of `data`, a JSON array of objects; `source` names it in messages.
    public static func entries(json data: Data, source: String) throws(ReadError) -> [PlaintextEntry] {
        // The decoder's own error is not shown: its context could quote the file.
        guard let array = try? JSONDecoder().decode([JSONElement].self, from: data) else {
            throw ReadError(
                isUnreadable: false,
                description:
                    "\(source) is not a JSON array (of objects with the fields \(fields.joined(separator: ", ")))"
            )
        }
        var entries: [PlaintextEntry] = []
        for (offset, element) in array.enumerated() {
            guard case .object(let object) = element else {
                throw ReadError(isUnreadable: false, description: "\(source): entry \(offset + 1) is not a JSON object")
            }
            var entry = PlaintextEntry(index: offset + 1)
            for (key, value) in object {
                guard fields.contains(key) else {
                    entry.unknownKeys += 1
                    continue
                }
                switch value {
                case .null: break
                case .text(let text): entry.values[key] = .text(text)
                case .number(let number): entry.values[key] = .number(number)
                case .other: entry.values[key] = .other
                }
            }
            entries.append(entry)
        }
        return entries
    }

    /// An element of the JSON array: an object of fields, or anything else (refused).
    private enum JSONElement: Decodable {
        case object([String: JSONField])
        case other

        init(from decoder: any Decoder) throws {
            if let object = try? decoder.singleValueContainer().decode([String: JSONField].self) {
                self = .object(object)
            } else {
                self = .other
            }
        }
    }

    /// A field's JSON value: text, a number, null, or anything else (an object, an array, a boolean).
    private enum JSONField: Decodable {
        case text(String)
        case number(Double)
        case null
        case other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let text = try? container.decode(String.self) {
                self = .text(text)
            } else if (try? container.decode(Bool.self)) != nil {
                self = .other
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else {
                self = .other
            }
        }
    }
}
