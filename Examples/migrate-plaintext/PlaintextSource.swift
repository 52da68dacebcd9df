import Foundation
import GRDB
import SendcloudVaultService

/// Where the plaintext entries come from: a JSON file (an array of objects, read by ``PlaintextEntry``) or a SQLite
/// table with the same fields as columns.
enum PlaintextSource: CustomStringConvertible {
    case json(path: String)
    case sqlite(path: String, table: String)

    /// A failure to read the source as a whole (not one row's problem). Never holds a value of the source.
    struct ReadError: Error, CustomStringConvertible {
        var description: String
    }

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

    /// Every entry, in the source's order.
    func rows() throws -> [PlaintextEntry] {
        switch self {
        case .json(let path):
            do { return try PlaintextEntry.entries(jsonFile: path) } catch {
                throw ReadError(description: error.description)
            }
        case .sqlite(let path, let table):
            return try Self.sqliteRows(path, table: table)
        }
    }

    private static func sqliteRows(_ path: String, table: String) throws -> [PlaintextEntry] {
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
            let selected = columns.filter { PlaintextEntry.fields.contains($0) }
            let list = selected.map { $0.quotedDatabaseIdentifier }.joined(separator: ", ")
            let rows = try Row.fetchAll(db, sql: "SELECT \(list) FROM \(table.quotedDatabaseIdentifier) ORDER BY rowid")
            return rows.enumerated().map { index, row in
                var plaintext = PlaintextEntry(index: index + 1)
                for column in selected {
                    let value: PlaintextEntry.Value?
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
