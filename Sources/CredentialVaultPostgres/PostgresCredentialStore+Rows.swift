import CredentialVault
import NIOCore
import PostgresNIO

/// The PostgreSQL type of each column of the vault's tables: `bigint`, `double precision`, `text` or `bytea`, the
/// counterparts of SQLite's storage classes. The names are shared by the tables (`key_id`, `created_at`).
enum PostgresColumnType: String, Sendable {
    case bigint
    case double = "double precision"
    case text
    case bytea

    static func of(_ column: some StoreColumn) -> PostgresColumnType {
        switch column.rawValue {
        case "key_id", "generation", "id", "ops_limit", "mem_limit", "format_version", "consecutive_failures": .bigint
        case "created_at", "updated_at", "refreshed_at", "next_attempt_at", "access_token_expires_at": .double
        case "client_secret", "refresh_token", "access_token", "salt", "wrapped_key", "vault_id": .bytea
        default: .text
        }
    }

    /// The cast that gives a bound parameter this column's type in any position of a statement.
    var cast: String { "::" + rawValue }
}

// StoreValue ↔ PostgreSQL values: binding with a class check per column, decoding by the type the server reports.
extension PostgresCredentialStore {
    /// Appends `value` for `column`. A value of another class than the column's is refused with
    /// ``VaultError/Code/invalidInput`` (the core never writes one); text holding U+0000, which PostgreSQL cannot
    /// store, likewise; a non-finite real is stored as NULL (the contract of ``CredentialStore``).
    static func bind(_ value: StoreValue, _ column: some StoreColumn, into bindings: inout PostgresBindings) throws {
        switch (value, PostgresColumnType.of(column)) {
        case (.null, _): bindings.appendNull()
        case (.integer(let integer), .bigint): bindings.append(integer)
        case (.real(let real), .double): if real.isFinite { bindings.append(real) } else { bindings.appendNull() }
        case (.text(let text), .text):
            guard !text.utf8.contains(0) else {
                throw VaultError(
                    .invalidInput,
                    "\(column.rawValue) holds a NUL character, which PostgreSQL cannot store"
                )
            }
            bindings.append(text)
        case (.blob(let bytes), .bytea): bindings.append(ByteBuffer(bytes: bytes))
        case (let value, let type):
            throw VaultError(.invalidInput, "\(column.rawValue) is a \(type.rawValue) column; cannot store \(value)")
        }
    }

    static func bindings<Column: StoreColumn>(_ columns: [Column], of row: StoreRow<Column>) throws -> PostgresBindings
    {
        var bindings = PostgresBindings(capacity: columns.count)
        for column in columns { try bind(row[column], column, into: &bindings) }
        return bindings
    }

    /// The row's cells as a ``StoreRow``, each decoded by the type the server reports for it (an altered column
    /// type is decoded as what it holds, and the core's decoder judges it); a type outside the four is an integrity
    /// failure.
    static func storeRow<Column: StoreColumn>(
        _ row: PostgresRow,
        _: Column.Type = Column.self
    ) throws -> StoreRow<Column> {
        var result = StoreRow<Column>()
        for cell in row {
            guard let column = Column(rawValue: cell.columnName) else { continue }
            result[column] = try value(cell)
        }
        return result
    }

    static func value(_ cell: PostgresCell) throws -> StoreValue {
        guard let bytes = cell.bytes else { return .null }
        switch cell.dataType {
        case .int8, .int4, .int2: return .integer(try cell.decode(Int64.self))
        case .float8, .float4: return .real(try cell.decode(Double.self))
        case .text, .varchar, .bpchar, .name: return .text(try cell.decode(String.self))
        case .bytea: return .blob(Array(bytes.readableBytesView))
        default:
            throw VaultError(
                .integrityFailure,
                "column \(cell.columnName.prefix(64)) has the unexpected type \(cell.dataType) (altered table?)"
            )
        }
    }
}

/// The statements of one vault, schema-qualified (the schema name is validated by ``PostgresLocation`` and quoted).
struct PostgresStatements: Sendable {
    let schema: String
    let header: String
    let slot: String
    let account: String
    let migrations: String
    let lease: String
    let singleUse: String

    init(schema: String) {
        self.schema = "\"\(schema)\""
        header = "\"\(schema)\".vault_header"
        slot = "\"\(schema)\".key_slot"
        account = "\"\(schema)\".account"
        migrations = "\"\(schema)\".schema_migration"
        lease = "\"\(schema)\".account_lease"
        singleUse = "\"\(schema)\".single_use"
    }

    static func list(_ columns: [some StoreColumn]) -> String { columns.map(\.rawValue).joined(separator: ", ") }

    /// `$first::type, $first+1::type, …` for `columns`.
    static func placeholders(_ columns: [some StoreColumn], from first: Int = 1) -> String {
        columns.enumerated().map { "$\(first + $0.offset)\(PostgresColumnType.of($0.element).cast)" }
            .joined(separator: ", ")
    }

    var selectHeader: String { "SELECT \(Self.list(VaultHeaderColumn.allCases)) FROM \(header) WHERE id = 1" }
    var selectSlots: String { "SELECT \(Self.list(KeySlotColumn.allCases)) FROM \(slot) ORDER BY id" }
    var selectAccount: String { "SELECT \(Self.list(AccountColumn.allCases)) FROM \(account) WHERE name = $1::text" }
    var selectAccounts: String { "SELECT \(Self.list(AccountColumn.allCases)) FROM \(account) ORDER BY name" }

    /// The header row locked for the transaction: `FOR SHARE` by inserts (so that a rotation cannot change
    /// the key id under them), `FOR UPDATE` by changes whose checks read several rows (slots, rotation, upgrade),
    /// which so run one at a time. Every transaction locks the header first, then account rows: one order, no
    /// deadlock.
    func lockHeader(exclusive: Bool) -> String {
        "SELECT key_id FROM \(header) WHERE id = 1 FOR \(exclusive ? "UPDATE" : "SHARE")"
    }

    /// Inserts an account if the header's key id is `$keyID` and the name is free; returns a row if it did.
    var insertAccount: String {
        let columns = AccountColumn.allCases
        let keyID = columns.firstIndex(of: .keyID)! + 1
        return """
            WITH current AS (SELECT key_id FROM \(header) WHERE id = 1 FOR SHARE)
            INSERT INTO \(account) (\(Self.list(columns)))
            SELECT \(Self.placeholders(columns)) FROM current WHERE current.key_id = $\(keyID)::bigint
            ON CONFLICT (name) DO NOTHING RETURNING 1
            """
    }

    /// The columns a compare-and-swap writes (all but the name).
    static let updated = AccountColumn.allCases.filter { $0 != .name }

    /// Writes an account if its generation is `$expected` and the header's key id is the row's; returns a row if it
    /// did. Parameters: the ``updated`` columns, then the name, then the expected generation.
    ///
    /// The hot path of every refresh, so it takes no lock on the header row (a `FOR SHARE` there would make every
    /// account write of every instance write that one row). It needs none: a rotation rewrites every account row
    /// with a new generation in the same transaction as the header. If the rotation committed first, the key id no
    /// longer matches; if it is in progress, this statement waits for the row and then re-checks the generation,
    /// which has moved on; if this statement writes the row first, the rotation's own compare-and-swap of it fails
    /// and rolls the rotation back. (Inserts, which have no generation to compare, do lock the header.)
    var compareAndSwap: String {
        let columns = Self.updated
        let keyID = columns.firstIndex(of: .keyID)! + 1
        let sets = columns.enumerated().map {
            "\($0.element.rawValue) = $\($0.offset + 1)\(PostgresColumnType.of($0.element).cast)"
        }
        return """
            UPDATE \(account) SET \(sets.joined(separator: ", "))
            WHERE name = $\(columns.count + 1)::text AND generation = $\(columns.count + 2)::bigint
            AND $\(keyID)::bigint = (SELECT key_id FROM \(header) WHERE id = 1) RETURNING 1
            """
    }

    /// Inside a transaction that holds the header lock: the CAS without the key id join.
    var compareAndSwapLocked: String {
        let columns = Self.updated
        let sets = columns.enumerated().map {
            "\($0.element.rawValue) = $\($0.offset + 1)\(PostgresColumnType.of($0.element).cast)"
        }
        return """
            UPDATE \(account) SET \(sets.joined(separator: ", "))
            WHERE name = $\(columns.count + 1)::text AND generation = $\(columns.count + 2)::bigint RETURNING 1
            """
    }

    func insertSlot(keepingID: Bool) -> String {
        let columns = KeySlotColumn.allCases.filter { keepingID || $0 != .id }
        return "INSERT INTO \(slot) (\(Self.list(columns))) VALUES (\(Self.placeholders(columns))) RETURNING id"
    }
}
