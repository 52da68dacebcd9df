import Foundation
import GRDB

/// Where the plaintext rows come from: a JSON file (an array of objects) or a SQLite table of the same shape.
enum PlaintextSource: CustomStringConvertible {
    case json(path: String)
    case sqlite(path: String, table: String)

    /// A failure to read the source as a whole (not one row's problem). Never holds a value of the source.
    struct ReadError: Error, CustomStringConvertible {
        var description: String
    }

    /// The largest JSON file read.
    static let maximumJSONBytes = 64 << 20

    var description: String {
        switch self {
        case .json(let path): path
        case .sqlite(let path, let table): "\(path), table \(table)"
        }
    }

    /// What to do with the plaintext once the vault holds it.
    var deletionAdvice: String {
        switch self {
        case .json(let path):
            "delete it and every copy or backup of it, e.g. `shred -u \(path)`"
        case .sqlite(let path, let table):
            "drop the table and compact the file (`sqlite3 \(path) 'DROP TABLE \"\(table)\"; VACUUM;'`), "
                + "or delete the file, and every copy or backup of it"
        }
    }

    /// Every row, in the source's order.
    func rows() throws -> [PlaintextRow] {
        switch self {
        case .json(let path): try Self.jsonRows(path)
        case .sqlite(let path, let table): try Self.sqliteRows(path, table: table)
        }
    }

    private static func jsonRows(_ path: String) throws -> [PlaintextRow] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ReadError(description: "cannot open \(path)")
        }
        defer { try? handle.close() }
        let data = try handle.read(upToCount: maximumJSONBytes + 1) ?? Data()
        guard data.count <= maximumJSONBytes else { throw ReadError(description: "\(path) is larger than 64 MiB") }
        // The decoder's own error is not shown: its context could quote the file.
        guard let array = try? JSONDecoder().decode([JSONElement].self, from: data) else {
            throw ReadError(description: "\(path) is not a JSON array (of objects with the plaintext fields)")
        }
        return try array.enumerated().map { index, element in
            guard case .object(let object) = element else {
                throw ReadError(description: "\(path): element \(index + 1) is not a JSON object")
            }
            var row = PlaintextRow(position: index + 1, values: [:])
            for (key, value) in object {
                guard PlaintextRow.fields.contains(key) else {
                    row.unknownKeys += 1
                    continue
                }
                switch value {
                case .null: break
                case .text(let text): row.values[key] = .text(text)
                case .number(let number): row.values[key] = .number(number)
                case .other: row.values[key] = .other
                }
            }
            return row
        }
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

    private static func sqliteRows(_ path: String, table: String) throws -> [PlaintextRow] {
        guard FileManager.default.fileExists(atPath: path) else { throw ReadError(description: "no file \(path)") }
        var configuration = Configuration()
        configuration.readonly = true
        let database: DatabaseQueue
        do {
            database = try DatabaseQueue(path: path, configuration: configuration)
        } catch {
            throw ReadError(description: "cannot open \(path) as a SQLite database")
        }
        return try database.read { db in
            guard try db.tableExists(table) else { throw ReadError(description: "\(path) has no table \(table)") }
            let columns = try db.columns(in: table).map(\.name)
            for required in ["name", "client_id", "client_secret"] where !columns.contains(required) {
                throw ReadError(description: "table \(table) has no column \(required)")
            }
            let selected = columns.filter { PlaintextRow.fields.contains($0) }
            let list = selected.map { $0.quotedDatabaseIdentifier }.joined(separator: ", ")
            let rows = try Row.fetchAll(db, sql: "SELECT \(list) FROM \(table.quotedDatabaseIdentifier) ORDER BY rowid")
            return rows.enumerated().map { index, row in
                var plaintext = PlaintextRow(position: index + 1, values: [:])
                for column in selected {
                    let value: PlaintextRow.Value?
                    switch row[column] as DatabaseValue {
                    case let stored where stored.isNull: value = nil
                    case let stored:
                        switch stored.storage {
                        case .string(let text): value = .text(text)
                        case .blob(let data): value = .bytes(Array(data))
                        case .int64(let number): value = .number(Double(number))
                        case .double(let number): value = .number(number)
                        case .null: value = nil
                        }
                    }
                    plaintext.values[column] = value
                }
                return plaintext
            }
        }
    }
}
