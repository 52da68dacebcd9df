// Benchmark harness for the PostgreSQL store (not run by the tests):
//
//   swift build -c release --product pg-bench && scripts/with-postgres .build/release/pg-bench [--quick]
//
// It needs the server of scripts/with-postgres (PGHOST, PGPORT, PGUSER, PGDATABASE; the password from PGPASSWORD,
// never from argv). Prints a Markdown table: each vault operation beside the raw postgres-nio cost of the same
// statement(s) on the same server, measured in the same run; then the `refresh --all` throughput of 1 and 3
// instances against an in-process fake Sendcloud, beside the fake endpoint's own rate.
import AsyncHTTPClient
import CredentialVault
import CredentialVaultPostgres
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import SendcloudOAuth
import SendcloudTesting

let quick = CommandLine.arguments.contains("--quick")
let logger = Logger(label: "pg-bench") { _ in SwiftLogNoOpLogHandler() }
let environment = ProcessInfo.processInfo.environment
guard let host = environment["PGHOST"], let port = environment["PGPORT"], let user = environment["PGUSER"],
    let database = environment["PGDATABASE"]
else {
    FileHandle.standardError.write(Data("pg-bench: run it under scripts/with-postgres\n".utf8))
    exit(64)
}

struct Row {
    var name: String
    var iterations: Int
    var median: Double  // microseconds
    var p90: Double
}
var rows: [Row] = []

/// Runs `body` `iterations` times in `rounds` rounds and records the per-call median and p90 of the rounds.
@MainActor
func measure(_ name: String, iterations: Int, rounds: Int = 7, _ body: () async throws -> Void) async rethrows {
    var samples: [Double] = []
    try await body()  // warm-up
    for _ in 0..<rounds {
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<iterations { try await body() }
        samples.append(microseconds(clock.now - start) / Double(iterations))
    }
    samples.sort()
    rows.append(
        Row(
            name: name,
            iterations: iterations,
            median: samples[samples.count / 2],
            p90: samples[Int(Double(samples.count - 1) * 0.9)]
        )
    )
    note("\(name): \(String(format: "%.2f", samples[samples.count / 2])) µs")
}

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
}

func note(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

/// Runs `count` jobs, `width` at a time.
func concurrently(_ count: Int, width: Int, _ job: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = 0
        while next < min(width, count) {
            let index = next
            group.addTask { try await job(index) }
            next += 1
        }
        while try await group.next() != nil {
            if next < count {
                let index = next
                group.addTask { try await job(index) }
                next += 1
            }
        }
    }
}

let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
@MainActor
func location(schema: String) throws -> PostgresLocation {
    try PostgresLocation(url: "postgres://\(user)@\(host):\(port)/\(database)?schema=\(schema)")
}
let readLocation = try location(schema: "bench_\(suffix)")
let password = try PostgresPassword.resolve(for: readLocation)

// The raw postgres-nio client: one pool, no TLS (loopback), the same server and database.
let raw = PostgresClient(
    configuration: .init(
        host: readLocation.host,
        port: readLocation.port,
        username: readLocation.user,
        password: password,
        database: readLocation.database,
        tls: .disable
    )
)
let rawRun = Task { await raw.run() }

let store = try await PostgresCredentialStore.connect(to: readLocation, password: password, create: true)
let vaultKey = KeyFileKey.generate()
let vault = try await CredentialVault.create(in: store, slots: [.key(vaultKey)], logger: logger)
let n = quick ? 300 : 2000
let secret = String(repeating: "s", count: 40)
let refresh = String(repeating: "r", count: 64)
let access = String(repeating: "a", count: 1024)
@MainActor
func addAccounts(_ range: Range<Int>) async throws {
    for i in range {
        try await vault.addAccount(
            Account(
                name: try AccountName("tenant-\(i)"),
                mode: .refreshToken,
                clientID: "client-\(i)",
                tokenURL: "https://account.sendcloud.com/oauth2/token"
            ),
            secrets: AccountSecrets(
                clientSecret: SecureBytes(utf8: secret),
                refreshToken: SecureBytes(utf8: refresh),
                accessToken: SecureBytes(utf8: access)
            )
        )
    }
}

// 1. Reads: the store's SELECT of one account (every column), raw through the pool, then through the vault.
let accountTable = "\"\(readLocation.schema)\".account"
let columns = AccountColumn.allCases.map(\.rawValue).joined(separator: ", ")
let selectOne = "SELECT \(columns) FROM \(accountTable) WHERE name = $1"
@MainActor
func rawSelect(_ name: String) async throws -> [PostgresRow] {
    var binds = PostgresBindings()
    binds.append(name)
    var found: [PostgresRow] = []
    for try await row in try await raw.query(PostgresQuery(unsafeSQL: selectOne, binds: binds), logger: logger) {
        found.append(row)
    }
    return found
}

@MainActor
func measureReads(_ total: Int) async throws {
    let name = "tenant-\(total / 2)"
    try await measure(
        "raw postgres-nio: SELECT one account row by name (pooled client.query), \(total) accounts",
        iterations: n
    ) {
        let found = try await rawSelect(name)
        precondition(found.count == 1)
    }
    try await measure("vault: openAccount (read + open 3 secrets), \(total) accounts", iterations: n) {
        _ = try await vault.openAccount(named: try AccountName(name))
    }
}
try await addAccounts(0..<10)
try await measureReads(10)
// The same SELECT on one connection held for the whole round: what the pool's lease adds.
try await raw.withConnection { connection in
    var binds = PostgresBindings()
    binds.append("tenant-5")
    let query = PostgresQuery(unsafeSQL: selectOne, binds: binds)
    try await measure("raw postgres-nio: the same SELECT on one held connection, 10 accounts", iterations: n) {
        let found = try await connection.query(query, logger: logger).collect()
        precondition(found.count == 1)
    }
}
try await measure("vault: account(named:) (read + authenticate metadata: open 1 value), 10 accounts", iterations: n) {
    _ = try await vault.account(named: "tenant-5")
}
let total = quick ? 1000 : 10_000
note("adding \(total - 10) accounts…")
try await addAccounts(10..<total)
_ = try await raw.query(PostgresQuery(unsafeSQL: "ANALYZE \(accountTable)"), logger: logger).collect()
try await measureReads(total)

// 2. Compare-and-swap writes (autocommit). The raw UPDATE writes the row's own sealed values back (the same bytes
// as the vault writes), updated_at and the next generation, guarded by name and generation.
let writes = quick ? 100 : 500
let rawName = "tenant-7"
let rawRow = try await rawSelect(rawName)[0].makeRandomAccess()
var rawGeneration = try rawRow["generation"].decode(Int64.self)
let rawSealed = try ["client_secret", "refresh_token", "access_token"].map { try rawRow[$0].decode(ByteBuffer.self) }
let update = """
    UPDATE \(accountTable) SET client_secret = $1, refresh_token = $2, access_token = $3, updated_at = $4,
    generation = generation + 1 WHERE name = $5 AND generation = $6 RETURNING 1
    """
try await measure(
    "raw postgres-nio: UPDATE … WHERE name = $1 AND generation = $2 (autocommit, pooled)",
    iterations: writes
) {
    var binds = PostgresBindings()
    for value in rawSealed { binds.append(value) }
    binds.append(Date().timeIntervalSince1970)
    binds.append(rawName)
    binds.append(rawGeneration)
    let updated = try await raw.query(PostgresQuery(unsafeSQL: update, binds: binds), logger: logger).collect()
    precondition(updated.count == 1)
    rawGeneration += 1
}
var current = try await vault.openAccount(named: "tenant-8")
try await measure("vault: updateAccount (reseal 3 secrets + CAS write)", iterations: writes) {
    current.account = try await vault.updateAccount(
        current.account,
        secrets: current.secrets,
        expectedGeneration: current.account.generation
    )
}

// 3. The account lock, uncontended, with the CLI's lock timeout (TokenProvider.Configuration.lockTimeout, 60 s).
let rawLockKey: Int64 = 0x5EED_C10D
try await raw.withConnection { connection in
    try await measure(
        "raw postgres-nio: SELECT pg_try_advisory_lock(k) + SELECT pg_advisory_unlock(k), one held connection",
        iterations: n
    ) {
        let taken = try await connection.query("SELECT pg_try_advisory_lock(\(rawLockKey))", logger: logger)
            .collect()
        let took = try taken[0].decode(Bool.self)
        precondition(took)
        let released = try await connection.query("SELECT pg_advisory_unlock(\(rawLockKey))", logger: logger)
            .collect()
        let gaveBack = try released[0].decode(Bool.self)
        precondition(gaveBack)
    }
}
try await measure("vault: store.withAccountLock {} (lease + 2 advisory locks + lease row), uncontended", iterations: n)
{
    try await store.withAccountLock("tenant-3", timeout: .seconds(60)) {}
}

// 4. `refresh --all` against the fake Sendcloud: 1,000 refresh-token accounts in a schema of their own.
let accounts = 1000
let width = 4  // TokenRefresher.Configuration.concurrency per instance (the CLI's default)
let clientID = "bench-client"
let clientSecret = "bench-secret"
let fake = try await FakeSendcloud.start()
fake.registerClient(id: clientID, secret: clientSecret)
let refreshLocation = try location(schema: "bench_refresh_\(suffix)")
let setup = try await PostgresCredentialStore.connect(to: refreshLocation, password: password, create: true)
let refreshKey = KeyFileKey.generate()
let setupVault = try await CredentialVault.create(in: setup, slots: [.key(refreshKey)], logger: logger)
note("adding \(accounts) refresh-token accounts…")
for i in 0..<accounts {
    try await setupVault.addAccount(
        Account(
            name: try AccountName(String(format: "tenant-%04d", i)),
            mode: .refreshToken,
            clientID: clientID,
            tokenURL: fake.tokenURL
        ),
        secrets: AccountSecrets(
            clientSecret: SecureBytes(utf8: clientSecret),
            refreshToken: SecureBytes(utf8: fake.issueRefreshToken(clientID: clientID))
        )
    )
}

struct Instance: Sendable {
    let store: PostgresCredentialStore
    let http: HTTPClient
    let refresher: TokenRefresher
}

@MainActor
func instance(_ configuration: TokenRefresher.Configuration) async throws -> Instance {
    let store = try await PostgresCredentialStore.connect(to: refreshLocation, password: password)
    let vault = try await CredentialVault.open(store, with: .key(refreshKey), logger: logger)
    let client = TokenEndpointClient.Configuration()
    let http = TokenEndpointClient.makeHTTPClient(configuration: client)
    let provider = TokenProvider(
        vault: vault,
        client: TokenEndpointClient(httpClient: http, configuration: client, logger: logger),
        logger: logger
    )
    return Instance(
        store: store,
        http: http,
        refresher: TokenRefresher(provider: provider, configuration: configuration, logger: logger)
    )
}

struct Pass {
    var name: String
    var seconds: Double
    var outcomes: Int
    var failed: Int
    var grants: Int
    var invalidGrants: Int
}
var passes: [Pass] = []

/// One pass of `refreshDue(force:)` on every instance at once; wall time and the fake server's counts.
@MainActor
func pass(_ name: String, _ instances: [Instance], force: Bool) async throws {
    let before = fake.stats
    let clock = ContinuousClock()
    let start = clock.now
    let outcomes = try await withThrowingTaskGroup(of: [TokenRefresher.Outcome].self) { group in
        for instance in instances { group.addTask { try await instance.refresher.refreshDue(force: force) } }
        var all: [TokenRefresher.Outcome] = []
        for try await outcomes in group { all += outcomes }
        return all
    }
    let seconds = microseconds(clock.now - start) / 1e6
    let after = fake.stats
    let failed = outcomes.filter { if case .failure = $0.result { true } else { false } }.count
    let result = Pass(
        name: name,
        seconds: seconds,
        outcomes: outcomes.count,
        failed: failed,
        grants: after.refreshGrants - before.refreshGrants,
        invalidGrants: after.invalidGrant - before.invalidGrant
    )
    passes.append(result)
    note(
        "\(name): \(String(format: "%.2f", seconds)) s, \(result.grants) grants, \(result.invalidGrants) invalid_grant"
    )
}

var configuration = TokenRefresher.Configuration()
configuration.concurrency = width
configuration.jitter = .zero
let one = try await instance(configuration)
try await pass("1 instance, refreshDue(force: true)", [one], force: true)
try await pass("1 instance, refreshDue(force: true), again", [one], force: true)
var three = [one]
for _ in 0..<2 { three.append(try await instance(configuration)) }
try await pass("3 instances at once, refreshDue(force: true) each", three, force: true)
try await pass("3 instances at once, refreshDue(force: true) each, again", three, force: true)
// A periodic pass (not forced) where every account is due: the tokens of the passes above expire in an hour, the
// window is 5,000 s, and the new ones live 2 hours, so an account refreshed by one instance is no longer due when
// another takes its lock (it re-reads the record under the lock and keeps the stored token).
fake.setAccessTokenLifetime(seconds: 7200)
configuration.ahead = .seconds(5000)
var periodic: [Instance] = []
for _ in 0..<3 { periodic.append(try await instance(configuration)) }
try await pass("3 instances at once, periodic pass (refreshDue(), all due)", periodic, force: false)

// The raw baseline: the fake endpoint's own rate, 1,000 refresh_token POSTs with AsyncHTTPClient (fresh chains),
// `width` at a time per HTTP client, from 1 and from 3 clients at once.
let basic = "Basic " + Data("\(clientID):\(clientSecret)".utf8).base64EncodedString()
@MainActor
func rawPosts(clients: Int) async throws -> Pass {
    let tokens = (0..<accounts).map { _ in fake.issueRefreshToken(clientID: clientID) }
    let https = (0..<clients).map { _ in TokenEndpointClient.makeHTTPClient() }
    let url = fake.tokenURL
    let basic = basic
    let before = fake.stats
    let clock = ContinuousClock()
    let start = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for (c, http) in https.enumerated() {
            let share = Array(tokens[(c * accounts / clients)..<((c + 1) * accounts / clients)])
            group.addTask {
                try await concurrently(share.count, width: width) { index in
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "Authorization", value: basic)
                    request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                    let token = share[index].addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                    request.body = .bytes(ByteBuffer(string: "grant_type=refresh_token&refresh_token=\(token)"))
                    let response = try await http.execute(request, timeout: .seconds(20))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    precondition(response.status == .ok, "\(response.status)")
                }
            }
        }
        try await group.waitForAll()
    }
    let seconds = microseconds(clock.now - start) / 1e6
    let after = fake.stats
    for http in https { try await http.shutdown() }
    return Pass(
        name:
            "raw AsyncHTTPClient: \(accounts) refresh_token POSTs to the fake, \(clients) client(s) × \(width) at once",
        seconds: seconds,
        outcomes: accounts,
        failed: 0,
        grants: after.refreshGrants - before.refreshGrants,
        invalidGrants: after.invalidGrant - before.invalidGrant
    )
}
for clients in [1, 3] {
    for _ in 0..<2 {
        let result = try await rawPosts(clients: clients)
        passes.append(result)
        note("\(result.name): \(String(format: "%.2f", result.seconds)) s")
    }
}

for instance in three + periodic {
    try await instance.http.shutdown() as Void
    await instance.store.close()
}
await fake.stop()
await setup.close()
await store.close()
rawRun.cancel()
await rawRun.value

print("| operation | median µs | p90 µs | calls/round |")
print("|---|---:|---:|---:|")
for row in rows {
    print(
        "| \(row.name) | \(String(format: "%.2f", row.median)) | \(String(format: "%.2f", row.p90)) | \(row.iterations) |"
    )
}
print("")
print(
    "| refresh of \(accounts) accounts (\(width) at once per instance, jitter 0) | wall s | outcomes/s | outcomes (failed) | refresh grants | invalid_grant |"
)
print("|---|---:|---:|---:|---:|---:|")
for pass in passes {
    print(
        "| \(pass.name) | \(String(format: "%.2f", pass.seconds)) | \(String(format: "%.0f", Double(pass.outcomes) / pass.seconds)) | \(pass.outcomes) (\(pass.failed)) | \(pass.grants) | \(pass.invalidGrants) |"
    )
}
