// The PostgreSQL store's figures (BENCHMARKS.md), each operation beside raw postgres-nio doing the same statement(s)
// on the same server in the same run; then `refresh --all` throughput of 1 and 3 instances against an in-process fake
// Sendcloud, beside the fake endpoint's own rate.
//
//   cd Benchmarks && ../scripts/with-postgres swift package benchmark --target PostgresBenchmarks
//
// Without the server of scripts/with-postgres every benchmark here is skipped.
import Benchmark
import CredentialVault
import CredentialVaultPostgres
import Foundation
import PostgresNIO
import SendcloudOAuth

let benchmarks: @Sendable () -> Void = {
    let server = PostgresServer.fromEnvironment
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 20,
        maxDuration: .seconds(3),
        maxIterations: 2000,
        skip: server == nil
    )
    Benchmark.shutdownHook = {
        await PostgresFixture.removeAll()
        await Refresh.removeAll()
    }
    let logger = PostgresFixture.logger

    // Reads: the store's SELECT of one account through the raw client's pool, then through the vault.
    for accounts in [10, 10_000] {
        Benchmark("raw postgres-nio: SELECT every account column by name, pooled client.query, \(accounts) accounts") {
            benchmark in
            let fixture = try await PostgresFixture.of(accounts: accounts)
            let name = fixture.middle.rawValue
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let rows = try await fixture.rawSelect(name)
                precondition(rows.count == 1)
            }
        }
        Benchmark("vault: openAccount (read + authenticate + open 3 values), \(accounts) accounts") { benchmark in
            let fixture = try await PostgresFixture.of(accounts: accounts)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try await fixture.vault.openAccount(named: fixture.middle))
            }
        }
    }
    // The same SELECT on one connection held for the whole run: what the pool's lease adds.
    Benchmark("raw postgres-nio: the same SELECT on one held connection, 10 accounts") { benchmark in
        let fixture = try await PostgresFixture.of(accounts: 10)
        var binds = PostgresBindings()
        binds.append(fixture.middle.rawValue)
        let query = PostgresQuery(unsafeSQL: fixture.selectOne, binds: binds)
        try await fixture.raw.withConnection { connection in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let rows = try await connection.query(query, logger: logger).collect()
                precondition(rows.count == 1)
            }
            benchmark.stopMeasurement()
        }
    }
    Benchmark("vault: account(named:) (read + authenticate the metadata), 10 accounts") { benchmark in
        let fixture = try await PostgresFixture.of(accounts: 10)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try await fixture.vault.account(named: fixture.middle)) }
    }

    // Compare-and-swap writes (autocommit). The raw UPDATE writes the row's own sealed values back (the same bytes
    // as the vault writes), updated_at and the next generation, guarded by name and generation.
    Benchmark("raw postgres-nio: UPDATE … WHERE name = $5 AND generation = $6 RETURNING 1, autocommit, pooled") {
        benchmark in
        let fixture = try await PostgresFixture.of(accounts: 10)
        let row = try await fixture.rawSelect("tenant-7")[0].makeRandomAccess()
        var generation = try row["generation"].decode(Int64.self)
        let sealed = try ["client_secret", "refresh_token", "access_token"].map { try row[$0].decode(ByteBuffer.self) }
        let update = """
            UPDATE \(fixture.accountTable) SET client_secret = $1, refresh_token = $2, access_token = $3,
            updated_at = $4, generation = generation + 1 WHERE name = $5 AND generation = $6 RETURNING 1
            """
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var binds = PostgresBindings()
            for value in sealed { binds.append(value) }
            binds.append(Date().timeIntervalSince1970)
            binds.append("tenant-7")
            binds.append(generation)
            let updated = try await fixture.raw.query(PostgresQuery(unsafeSQL: update, binds: binds), logger: logger)
                .collect()
            precondition(updated.count == 1)
            generation += 1
        }
    }
    Benchmark("vault: updateAccount (reseal 3 values + CAS)") { benchmark in
        let fixture = try await PostgresFixture.of(accounts: 10)
        var current = try await fixture.vault.openAccount(named: "tenant-8")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            current.account = try await fixture.vault.updateAccount(
                current.account,
                secrets: current.secrets,
                expectedGeneration: current.account.generation
            )
        }
    }

    // The account lock, uncontended, with the CLI's lock timeout (TokenProvider.Configuration.lockTimeout, 60 s).
    Benchmark("raw postgres-nio: pg_try_advisory_lock(k) + pg_advisory_unlock(k), one held connection") { benchmark in
        let fixture = try await PostgresFixture.of(accounts: 10)
        let key: Int64 = 0x5EED_C10D
        try await fixture.raw.withConnection { connection in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let taken = try await connection.query("SELECT pg_try_advisory_lock(\(key))", logger: logger).collect()
                let took = try taken[0].decode(Bool.self)
                precondition(took)
                let released = try await connection.query("SELECT pg_advisory_unlock(\(key))", logger: logger)
                    .collect()
                let gaveBack = try released[0].decode(Bool.self)
                precondition(gaveBack)
            }
            benchmark.stopMeasurement()
        }
    }
    Benchmark("vault: store.withAccountLock {} (lease + 2 advisory locks + lease row), uncontended") { benchmark in
        let fixture = try await PostgresFixture.of(accounts: 10)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try await fixture.store.withAccountLock("tenant-3", timeout: .seconds(60)) {}
        }
    }

    // `refresh --all` over 1,000 accounts: each sample is one forced pass, its wall time and the grants it sent.
    let pass = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal, Refresh.grants, Refresh.invalidGrants],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(60),
        maxIterations: 5,
        skip: server == nil
    )
    for instances in [1, 3] {
        Benchmark(
            "vault: refreshDue(force: true) of 1,000 accounts, \(instances) instance(s) at once, 4 each",
            configuration: pass
        ) { benchmark in
            let fixture = try await Refresh.fixture(instances: instances)
            benchmark.startMeasurement()
            let counts = try await fixture.forcedPass()
            benchmark.stopMeasurement()
            benchmark.measurement(Refresh.grants, counts.grants)
            benchmark.measurement(Refresh.invalidGrants, counts.invalidGrants)
        }
        Benchmark(
            "raw AsyncHTTPClient: 1,000 refresh_token POSTs to the fake, \(instances) client(s) × 4 at once",
            configuration: pass
        ) { benchmark in
            let fixture = try await Refresh.fixture(instances: 1)
            try await fixture.rawPosts(clients: instances, measuring: benchmark)
        }
    }
}

/// The refresh fixtures, by number of instances, made on first use.
enum Refresh {
    static let grants = BenchmarkMetric.custom("refresh grants")
    static let invalidGrants = BenchmarkMetric.custom("invalid_grant")

    private static let made = Made()

    static func fixture(instances: Int) async throws -> RefreshFixture { try await made.fixture(instances: instances) }

    static func removeAll() async { await made.removeAll() }

    private actor Made {
        var fixtures: [Int: RefreshFixture] = [:]

        func fixture(instances: Int) async throws -> RefreshFixture {
            if let fixture = fixtures[instances] { return fixture }
            guard let server = PostgresServer.fromEnvironment else { throw PostgresFixture.NoServer() }
            let fixture = try await RefreshFixture(server: server, instances: instances)
            fixtures[instances] = fixture
            return fixture
        }

        func removeAll() async {
            for fixture in fixtures.values { await fixture.remove() }
            fixtures = [:]
        }
    }
}
