import CredentialStoreConformance
import CredentialVault
import Foundation
import PostgresNIO
import TestSupport
import Testing

@testable import CredentialVaultPostgres

@Suite("PostgreSQL store: the CredentialStore conformance suite")
struct PostgresConformanceTests {
    let factory = StoreFactory(
        name: "postgres",
        makeStore: { try await PostgresSupport.store(try PostgresSupport.location(), create: true) },
        sameStorage: { try await PostgresSupport.store(($0 as! PostgresCredentialStore).location) },
        tamper: { store, name, column, value in
            try await PostgresConformanceTests.tamper(store as! PostgresCredentialStore, name, column, value)
        }
    )

    /// Writes one column behind the store's back with SQL. PostgreSQL's typed columns cannot hold a value of another
    /// class (text in a bigint column); for those, the attacker — who owns the schema — writes the nearest damage the
    /// column allows: NaN in a double column, NULL (after dropping NOT NULL) in a bigint one, the value's text in a
    /// text column, its UTF-8 bytes in a bytea one. Each is a value the core must reject the same way.
    static func tamper(
        _ store: PostgresCredentialStore,
        _ name: AccountName,
        _ column: AccountColumn,
        _ value: StoreValue
    ) async throws {
        let table = "\"\(store.location.schema)\".account"
        var binds = PostgresBindings()
        let type = PostgresColumnType.of(column)
        var expression = "$1"
        switch (value, type) {
        case (.integer(let integer), .bigint): binds.append(integer)
        case (.real(let real), .double): binds.append(real)
        case (.text(let text), .text): binds.append(text)
        case (.blob(let bytes), .bytea): binds.append(ByteBuffer(bytes: bytes))
        case (.null, _): binds.appendNull()
        case (_, .double):
            binds.append(Double.nan)
        case (_, .bigint):
            try await PostgresSupport.execute(
                PostgresQuery(unsafeSQL: "ALTER TABLE \(table) ALTER COLUMN \(column.rawValue) DROP NOT NULL")
            )
            binds.appendNull()
            expression = "$1::bigint"
        case (.integer(let integer), .text): binds.append(String(integer))
        case (.real(let real), .text): binds.append(String(real))
        case (.blob(let bytes), .text): binds.append(String(decoding: bytes, as: UTF8.self))
        case (.text(let text), .bytea): binds.append(ByteBuffer(bytes: Array(text.utf8)))
        case (.integer(let integer), .bytea): binds.append(ByteBuffer(bytes: Array(String(integer).utf8)))
        case (.real(let real), .bytea): binds.append(ByteBuffer(bytes: Array(String(real).utf8)))
        default: throw TestSupportError(description: "no tampering for \(value) in \(column.rawValue)")
        }
        binds.append(name.rawValue)
        try await PostgresSupport.execute(
            PostgresQuery(
                unsafeSQL: "UPDATE \(table) SET \(column.rawValue) = \(expression) WHERE name = $2",
                binds: binds
            )
        )
    }

    @Test(arguments: CredentialStoreConformance.cases)
    func conformance(_ check: ConformanceCase) async throws { try await check.run(factory) }

    /// The planner chooses among the indexes by their statistics (on an empty table, any index serves): so the
    /// table holds what a real vault holds — 2000 accounts, none expiring soon, none idle, none backing off — and is
    /// analysed.
    @Test("with a real vault's statistics, the due-accounts query is served by the expiry and refresh indexes")
    func dueAccountsUseIndexes() async throws {
        let location = try PostgresSupport.location()
        let store = try await PostgresSupport.store(location, create: true)
        let table = "\"\(location.schema)\".account"
        try PostgresTestServer.configured().psql(
            """
            INSERT INTO \(table) (name, mode, client_id, token_url, key_id, access_token_expires_at, status, generation,
                created_at, updated_at, refreshed_at)
            SELECT 'tenant-' || i, 'refresh-token', 'client', 'https://example.com/token', 1,
                extract(epoch FROM now()) + 3600 + i, 'ok', 1, 0, 0, extract(epoch FROM now()) - 100
            FROM generate_series(1, 2000) AS i;
            ANALYZE \(table)
            """
        )
        let now = Date()
        let query = DueAccountQuery(
            expiringBefore: now.addingTimeInterval(300),
            refreshedBefore: now.addingTimeInterval(-7 * 86400),
            now: now
        )
        let plan = try await store.dueAccountsQueryPlan(query).joined(separator: "\n")
        #expect(plan.contains("account_by_expiry"), "\(plan)")
        #expect(plan.contains("account_by_refresh"), "\(plan)")
        await store.close()
    }
}
