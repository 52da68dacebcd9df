import AsyncHTTPClient
import CredentialVault
import CredentialVaultPostgres
import Foundation
import Logging
import PostgresNIO
import SendcloudOAuth
import SendcloudTesting

/// The server of `scripts/with-postgres` (PGHOST, PGPORT, PGUSER, PGDATABASE; the password from PGPASSWORD, never
/// from argv), or nil when the suite runs without one.
struct PostgresServer: Sendable {
    let host: String
    let port: String
    let user: String
    let database: String

    static let fromEnvironment: PostgresServer? = {
        let environment = ProcessInfo.processInfo.environment
        guard let host = environment["PGHOST"], let port = environment["PGPORT"], let user = environment["PGUSER"],
            let database = environment["PGDATABASE"]
        else { return nil }
        return PostgresServer(host: host, port: port, user: user, database: database)
    }()

    /// A raw postgres-nio client of `location`'s server and database: one pool, no TLS (loopback).
    static func rawClient(for location: PostgresLocation, password: String?) -> PostgresClient {
        PostgresClient(
            configuration: .init(
                host: location.host,
                port: location.port,
                username: location.user,
                password: password,
                database: location.database,
                tls: .disable
            )
        )
    }

    func location(schema: String) throws -> PostgresLocation {
        try PostgresLocation(url: "postgres://\(user)@\(host):\(port)/\(database)?schema=\(schema)")
    }
}

/// A vault of `accounts` refresh-token accounts in a schema of its own, made once per process through the library,
/// with the raw postgres-nio client (one pool, no TLS on loopback) on the same server and database.
final class PostgresFixture: Sendable {
    static let logger = Logger(label: "pg-bench") { _ in SwiftLogNoOpLogHandler() }

    let accounts: Int
    let location: PostgresLocation
    let store: PostgresCredentialStore
    let vault: CredentialVault
    let raw: PostgresClient
    private let rawRun: Task<Void, Never>
    let middle: AccountName
    /// The store's SELECT of one account, every column, by name.
    let selectOne: String
    let accountTable: String

    init(server: PostgresServer, accounts: Int) async throws {
        self.accounts = accounts
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        location = try server.location(schema: "bench_\(accounts)_\(suffix)")
        let password = try PostgresPassword.resolve(for: location)
        let raw = PostgresServer.rawClient(for: location, password: password)
        self.raw = raw
        rawRun = Task { await raw.run() }
        store = try await PostgresCredentialStore.connect(to: location, password: password, create: true)
        vault = try await CredentialVault.create(in: store, slots: [.key(KeyFileKey.generate())], logger: Self.logger)
        for i in 0..<accounts {
            try await vault.addAccount(
                Account(
                    name: try AccountName("tenant-\(i)"),
                    mode: .refreshToken,
                    clientID: "client-\(i)",
                    tokenURL: "https://account.sendcloud.com/oauth2/token"
                ),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: String(repeating: "s", count: 40)),
                    refreshToken: SecureBytes(utf8: String(repeating: "r", count: 64)),
                    accessToken: SecureBytes(utf8: String(repeating: "a", count: 1024))
                )
            )
        }
        middle = try AccountName("tenant-\(accounts / 2)")
        accountTable = "\"\(location.schema)\".account"
        selectOne =
            "SELECT \(AccountColumn.allCases.map(\.rawValue).joined(separator: ", ")) FROM \(accountTable) WHERE name = $1"
        _ = try await raw.query(PostgresQuery(unsafeSQL: "ANALYZE \(accountTable)"), logger: Self.logger).collect()
    }

    /// The store's SELECT through the raw client's pool, rows collected.
    func rawSelect(_ name: String) async throws -> [PostgresRow] {
        var binds = PostgresBindings()
        binds.append(name)
        return try await raw.query(PostgresQuery(unsafeSQL: selectOne, binds: binds), logger: Self.logger).collect()
    }

    /// Drops the schema and closes both clients.
    func remove() async {
        _ = try? await raw.query(
            PostgresQuery(unsafeSQL: "DROP SCHEMA \"\(location.schema)\" CASCADE"),
            logger: Self.logger
        ).collect()
        await store.close()
        rawRun.cancel()
        await rawRun.value
    }

    private static let made = Made()

    static func of(accounts: Int) async throws -> PostgresFixture { try await made.fixture(accounts: accounts) }

    static func removeAll() async { await made.removeAll() }

    private actor Made {
        var fixtures: [Int: PostgresFixture] = [:]

        func fixture(accounts: Int) async throws -> PostgresFixture {
            if let fixture = fixtures[accounts] { return fixture }
            guard let server = PostgresServer.fromEnvironment else { throw NoServer() }
            let fixture = try await PostgresFixture(server: server, accounts: accounts)
            fixtures[accounts] = fixture
            return fixture
        }

        func removeAll() async {
            for fixture in fixtures.values { await fixture.remove() }
            fixtures = [:]
        }
    }

    struct NoServer: Error, CustomStringConvertible {
        var description: String { "PostgresBenchmarks: run it under scripts/with-postgres" }
    }
}
