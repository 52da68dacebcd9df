// The SQLite vault's figures (BENCHMARKS.md), each operation beside the raw cost of the same work measured in the
// same run: libsodium, the SQLite C API with prepared statements, GRDB, and fcntl.
//
//   cd Benchmarks && swift package benchmark --target VaultBenchmarks [--filter REGEX] [--format markdown]
import Baselines
import Benchmark
import CredentialVault
import CredentialVaultSQLite
import Foundation
import GRDB
import SendcloudOAuth

#if canImport(Glibc)
import Glibc
#endif

let benchmarks: @Sendable () -> Void = {
    RawSodium.initialize()
    // Each sample is 1,000 calls, reported per call: the harness's own work between samples (reading its counters
    // allocates, about 16 mallocs) is then under a thousandth of a call. CPU time and context switches are left
    // out: getrusage counts in 10 ms ticks here.
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 2,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 200
    )
    Benchmark.shutdownHook = { await SQLiteFixture.removeAll() }
    /// For durable writes: each waits for an fsync.
    let writes = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 10,
        scalingFactor: .one,
        maxDuration: .seconds(3),
        maxIterations: 500
    )

    // Sealing: libsodium alone. The vault seals and opens through the same calls; its figures are in the rows below.
    let key = (0..<32).map { UInt8($0) }
    let associatedData = [UInt8](repeating: 7, count: 48)
    let token = [UInt8](repeating: 0x41, count: 1024)
    let nonce = RawSodium.randomNonce()
    let sealed = RawSodium.seal(token, key: key, nonce: nonce, ad: associatedData)
    Benchmark("raw libsodium: XChaCha20-Poly1305 seal 1 KiB + random nonce") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(RawSodium.seal(token, key: key, nonce: RawSodium.randomNonce(), ad: associatedData))
        }
    }
    Benchmark("raw libsodium: XChaCha20-Poly1305 open 1 KiB") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(RawSodium.open(sealed, key: key, nonce: nonce, ad: associatedData))
        }
    }

    // Reading one account, at two sizes: the C API point read (every column, the blobs copied out) is the floor.
    for accounts in [10, 10_000] {
        Benchmark("raw SQLite C API: prepared point read of every column, \(accounts) accounts") { benchmark in
            let fixture = try await SQLiteFixture.of(accounts: accounts)
            let name = fixture.middle.rawValue
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { precondition(fixture.raw.pointRead(name) > 0) }
        }
        Benchmark("raw GRDB: SELECT * by name on the calling thread, \(accounts) accounts") { benchmark in
            let fixture = try await SQLiteFixture.of(accounts: accounts)
            let name = fixture.middle.rawValue
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { precondition(GRDBBaseline.read(fixture.grdb, name)) }
        }
        Benchmark("vault: openAccount (read + authenticate + open 3 values), \(accounts) accounts") { benchmark in
            let fixture = try await SQLiteFixture.of(accounts: accounts)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try await fixture.vault.openAccount(named: fixture.middle))
            }
        }
        Benchmark("vault: account(named:) (read + authenticate the metadata), \(accounts) accounts") { benchmark in
            let fixture = try await SQLiteFixture.of(accounts: accounts)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { blackHole(try await fixture.vault.account(named: fixture.middle)) }
        }
        // The in-memory path of a long-running process (DESIGN §5): a token the provider holds, no store read.
        // Its allocations per call must not grow with the number of accounts held.
        Benchmark("provider: accessToken(for:) held in memory, \(accounts) accounts held") {
            benchmark in
            let fixture = try await SQLiteFixture.of(accounts: accounts)
            try await fixture.holdAllTokens()
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try await fixture.provider.accessToken(for: fixture.middle))
            }
        }
    }

    // A page of a listing (`list`, `verify`): 500 accounts after the first, every column, of 10,000.
    let pages = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 3,
        scalingFactor: .one,
        maxDuration: .seconds(3),
        maxIterations: 200
    )
    Benchmark(
        "raw SQLite C API: prepared page of 500 accounts in name order, every column, 10000 accounts",
        configuration: pages
    ) {
        benchmark in
        let fixture = try await SQLiteFixture.of(accounts: 10_000)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { precondition(fixture.raw.pageRead(after: "tenant-0", limit: 500) == 500) }
    }
    Benchmark(
        "vault: accounts(after:limit:) page of 500 (read + authenticate each), 10000 accounts",
        configuration: pages
    ) {
        benchmark in
        let fixture = try await SQLiteFixture.of(accounts: 10_000)
        let first = try AccountName("tenant-0")
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let page = try await fixture.vault.accounts(after: first, limit: 500)
            precondition(page.count == 500)
        }
    }

    // A durable compare-and-swap (synchronous=FULL): the C API transaction of the store's shape is the floor.
    let sealedValues = [
        [UInt8](repeating: 1, count: 80), [UInt8](repeating: 2, count: 104), [UInt8](repeating: 3, count: 1064),
    ]
    Benchmark(
        "raw SQLite C API: BEGIN IMMEDIATE, read generation, UPDATE every column, COMMIT (synchronous=FULL)",
        configuration: writes
    ) { benchmark in
        let fixture = try await SQLiteFixture.of(accounts: 10)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            fixture.raw.compareAndSwap("tenant-9", values: sealedValues, now: Date().timeIntervalSince1970)
        }
    }
    Benchmark("raw GRDB: UPDATE one column in a write transaction (synchronous=FULL)", configuration: writes) {
        benchmark in
        let fixture = try await SQLiteFixture.of(accounts: 10)
        GRDBBaseline.execute(fixture.grdb, "PRAGMA synchronous = FULL", transaction: false)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            GRDBBaseline.execute(
                fixture.grdb,
                "UPDATE account SET updated_at = updated_at + 1 WHERE name = 'tenant-7'",
                transaction: true
            )
        }
    }
    Benchmark("vault: updateAccount (reseal 3 values + CAS, synchronous=FULL)", configuration: writes) { benchmark in
        let fixture = try await SQLiteFixture.of(accounts: 10)
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

    // Unlocking: Argon2id is the floor of a passphrase; a key file's is opening the file.
    let passphrase = "correct horse battery staple"
    let salt = [UInt8](repeating: 3, count: 16)
    let slow = Benchmark.Configuration(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(5),
        maxIterations: 20
    )
    Benchmark("raw libsodium: Argon2id INTERACTIVE (2 passes, 64 MiB)", configuration: slow) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(RawSodium.argon2idInteractive(Array(passphrase.utf8), salt: salt))
        }
    }
    Benchmark("vault: open with a passphrase (file + Argon2id + unwrap)", configuration: slow) { benchmark in
        let fixture = try await SQLiteFixture.of(accounts: 10)
        let path = fixture.directory + "/passphrase.sqlite"
        if !FileManager.default.fileExists(atPath: path) {
            _ = try await CredentialVault.create(
                in: SQLiteCredentialStore(path: path, create: true),
                slots: [.passphrase(SecureBytes(utf8: passphrase))],
                logger: SQLiteFixture.logger
            )
        }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(
                try await CredentialVault.open(
                    SQLiteCredentialStore(path: path),
                    with: .passphrase(SecureBytes(utf8: passphrase)),
                    logger: SQLiteFixture.logger
                )
            )
        }
    }
    Benchmark("vault: open with a key file (file + unwrap)", configuration: writes) { benchmark in
        let fixture = try await SQLiteFixture.of(accounts: 10)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(
                try await CredentialVault.open(
                    SQLiteCredentialStore(path: fixture.path),
                    with: .key(fixture.key),
                    logger: SQLiteFixture.logger
                )
            )
        }
    }

    // The account lock, uncontended: an OFD byte lock and unlock on a descriptor kept open (of a scratch file:
    // closing a descriptor of the vault would drop this process's SQLite locks) is the floor.
    Benchmark("raw fcntl: F_OFD_SETLK lock + unlock of one byte, descriptor kept open") { benchmark in
        let fixture = try await SQLiteFixture.of(accounts: 10)
        let descriptor = open(fixture.directory + "/raw.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        precondition(descriptor >= 0)
        defer { close(descriptor) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { RawLock.lockAndUnlock(descriptor, byte: 12345) }
    }
    Benchmark("vault: withAccountLock (this process's table + OFD lock on the vault file), uncontended") {
        benchmark in
        let fixture = try await SQLiteFixture.of(accounts: 10)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try await fixture.store.withAccountLock("tenant-3", timeout: .seconds(5)) {}
        }
    }
}

/// GRDB called directly. Synchronous functions, so that GRDB's synchronous overloads are the ones called.
enum GRDBBaseline {
    static func read(_ queue: DatabaseQueue, _ name: String) -> Bool {
        (try! queue.read { try Row.fetchOne($0, sql: "SELECT * FROM account WHERE name = ?", arguments: [name]) })
            != nil
    }

    static func execute(_ queue: DatabaseQueue, _ sql: String, transaction: Bool) {
        if transaction {
            try! queue.write { try $0.execute(sql: sql) }
        } else {
            try! queue.writeWithoutTransaction { try $0.execute(sql: sql) }
        }
    }
}
