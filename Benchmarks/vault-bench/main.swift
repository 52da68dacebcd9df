// Benchmark harness (not run by the tests): `swift run -c release vault-bench [--quick]`.
// Prints a Markdown table: each vault operation beside the raw libsodium / SQLite cost measured in the same run.
import AsyncHTTPClient
import CredentialVault
import CredentialVaultSQLite
import Foundation
import GRDB
import Logging
import SendcloudOAuth

#if canImport(Glibc)
import Glibc
#endif

RawSodium.initialize()

struct Row {
    var name: String
    var iterations: Int
    var median: Double  // microseconds
    var p90: Double
}
/// Everything runs in one nonisolated function, not in top-level code (which is main-actor isolated): each `await`
/// in a main-actor loop would hop to the global executor and back, and that hop (tens of µs) would be measured.
nonisolated func runBenchmarks() async throws {
    let quick = CommandLine.arguments.contains("--quick")
    let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
    var rows: [Row] = []

    /// Runs `body` `iterations` times in `rounds` rounds and records the per-call median and p90 of the rounds.
    func measure(_ name: String, iterations: Int, rounds: Int = 7, _ body: () async throws -> Void) async rethrows {
        var samples: [Double] = []
        try await body()  // warm-up
        for _ in 0..<rounds {
            let clock = ContinuousClock()
            let start = clock.now
            for _ in 0..<iterations { try await body() }
            let elapsed = clock.now - start
            samples.append(
                Double(elapsed.components.attoseconds) / 1e12 / Double(iterations)
                    + Double(elapsed.components.seconds) * 1e6 / Double(iterations)
            )
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
        FileHandle.standardError.write(Data("\(name): \(String(format: "%.2f", samples[samples.count / 2])) µs\n".utf8))
    }

    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vault-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(
        atPath: dir,
        withIntermediateDirectories: true,
        attributes: [.posixPermissions: 0o700]
    )
    defer { try? FileManager.default.removeItem(atPath: dir) }

    let n = quick ? 200 : 2000

    // 1. Sealing: raw libsodium vs a vault round trip in memory is not public; compare at the record level below.
    let key = (0..<32).map { UInt8($0) }
    let ad = [UInt8](repeating: 7, count: 48)
    let token = [UInt8](repeating: 0x41, count: 1024)
    var sealed: [UInt8] = []
    var nonce = RawSodium.randomNonce()
    await measure("raw libsodium: XChaCha20-Poly1305 seal 1 KiB (+ random nonce)", iterations: n * 10) {
        nonce = RawSodium.randomNonce()
        sealed = RawSodium.seal(token, key: key, nonce: nonce, ad: ad)
    }
    await measure("raw libsodium: XChaCha20-Poly1305 open 1 KiB", iterations: n * 10) {
        _ = RawSodium.open(sealed, key: key, nonce: nonce, ad: ad)
    }

    // 2. Records in a real SQLite vault file.
    let path = dir + "/vault.sqlite"
    let vaultKey = KeyFileKey.generate()
    let vault = try await CredentialVault.create(
        in: SQLiteCredentialStore(path: path, create: true),
        slots: [.key(vaultKey)],
        logger: logger
    )
    let secret = String(repeating: "s", count: 40)
    let refresh = String(repeating: "r", count: 64)
    let access = String(repeating: "a", count: 1024)
    func addAccounts(_ range: Range<Int>) async throws {
        for i in range {
            try await vault.addAccount(
                Account(
                    name: try AccountName("tenant-\(i)"),
                    mode: .refreshToken,
                    clientID: "client-\(i)",
                    tokenURL: "https://account.sendcloud.com/oauth2/token",
                    accessTokenExpiresAt: Date().addingTimeInterval(86400)
                ),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: secret),
                    refreshToken: SecureBytes(utf8: refresh),
                    accessToken: SecureBytes(utf8: access)
                )
            )
        }
    }
    try await addAccounts(0..<10)
    let raw = try DatabaseQueue(path: path)
    let rawC = RawSQLite(path: path, columns: AccountColumn.allCases.map(\.rawValue))
    await measure(
        "raw SQLite C API: prepared SELECT of every account column by name, blobs copied, 10 accounts",
        iterations: n * 5
    ) {
        precondition(rawC.pointRead("tenant-5") > 0)
    }
    await measure("raw SQLite (GRDB): SELECT one account row by name, 10 accounts", iterations: n) {
        precondition(Row_.syncFetch(raw, "tenant-5"))
    }
    try await measure(
        "raw SQLite (GRDB, async read as the store does): SELECT one row by name, 10 accounts",
        iterations: n
    ) {
        let found: Bool = try await raw.read { db in try Row_.fetch(db, "tenant-5") != nil }
        precondition(found)
    }
    try await measure("vault: openAccount (read + open 3 secrets), 10 accounts", iterations: n) {
        _ = try await vault.openAccount(named: "tenant-5")
    }
    try await measure("vault: account(named:) (read + authenticate metadata: open 1 value), 10 accounts", iterations: n)
    {
        _ = try await vault.account(named: "tenant-5")
    }
    // The in-memory path of a long-running process (DESIGN §5): a token held by the provider, no store read.
    let http = HTTPClient(eventLoopGroupProvider: .singleton)
    var providerConfiguration = TokenProvider.Configuration()
    providerConfiguration.accessTokenCacheLimit = 100_000
    let provider = TokenProvider(
        vault: vault,
        client: TokenEndpointClient(httpClient: http, logger: logger),
        configuration: providerConfiguration,
        logger: logger
    )
    /// The process's resident bytes (`/proc/self/statm`, second field, in pages).
    func heapInUse() -> Int {
        let fields = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8))?.split(separator: " ") ?? []
        return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
    /// Puts every account of `range` in the provider's memory (each read from the store once).
    func holdTokens(_ range: Range<Int>) async throws {
        for i in range {
            let token = try await provider.accessToken(for: try AccountName("tenant-\(i)"))
            precondition(!token.obtainedFromServer)
        }
    }
    try await holdTokens(0..<10)
    try await measure("provider: accessToken(for:) held in memory, 10 accounts held", iterations: n * 50) {
        _ = try await provider.accessToken(for: "tenant-5")
    }
    var heapBefore = heapInUse()
    for _ in 0..<1_000_000 { _ = try await provider.accessToken(for: "tenant-5") }
    let heapGrowthSmall = heapInUse() - heapBefore

    let total = quick ? 1000 : 10_000
    try await addAccounts(10..<total)
    await measure("raw SQLite (GRDB): SELECT one account row by name, \(total) accounts", iterations: n) {
        precondition(Row_.syncFetch(raw, "tenant-\(total / 2)"))
    }
    try await measure("vault: openAccount (read + open 3 secrets), \(total) accounts", iterations: n) {
        _ = try await vault.openAccount(named: try AccountName("tenant-\(total / 2)"))
    }
    await measure(
        "raw SQLite C API: prepared SELECT of every account column by name, blobs copied, \(total) accounts",
        iterations: n * 5
    ) {
        precondition(rawC.pointRead("tenant-\(total / 2)") > 0)
    }
    try await holdTokens(10..<total)
    let middle = try AccountName("tenant-\(total / 2)")
    try await measure("provider: accessToken(for:) held in memory, \(total) accounts held", iterations: n * 50) {
        _ = try await provider.accessToken(for: middle)
    }
    heapBefore = heapInUse()
    for _ in 0..<1_000_000 { _ = try await provider.accessToken(for: middle) }
    let heapGrowthLarge = heapInUse() - heapBefore
    try await (http.shutdown() as Void)

    // 3. Durable writes (synchronous=FULL, one transaction each).
    Row_.syncWrite(raw, "PRAGMA synchronous = FULL", transaction: false)
    let writes = quick ? 50 : 300
    await measure("raw SQLite (GRDB): UPDATE one row, 1 transaction, synchronous=FULL", iterations: writes) {
        Row_.syncWrite(raw, "UPDATE account SET updated_at = updated_at + 1 WHERE name = 'tenant-7'", transaction: true)
    }
    let sealedValues = [
        [UInt8](repeating: 1, count: 80), [UInt8](repeating: 2, count: 104), [UInt8](repeating: 3, count: 1064),
    ]
    await measure(
        "raw SQLite C API: BEGIN IMMEDIATE, read generation, UPDATE every column (3 new blobs), COMMIT, synchronous=FULL",
        iterations: writes
    ) {
        rawC.compareAndSwap("tenant-9", values: sealedValues, now: Date().timeIntervalSince1970)
    }
    var current = try await vault.openAccount(named: "tenant-8")
    try await measure("vault: updateAccount (reseal 3 secrets + CAS write), synchronous=FULL", iterations: writes) {
        current.account = try await vault.updateAccount(
            current.account,
            secrets: current.secrets,
            expectedGeneration: current.account.generation
        )
    }

    // 4. Unlocking.
    let passphraseVaultPath = dir + "/pass.sqlite"
    _ = try await CredentialVault.create(
        in: SQLiteCredentialStore(path: passphraseVaultPath, create: true),
        slots: [.passphrase(SecureBytes(utf8: "correct horse battery staple"))],
        logger: logger
    )
    let salt = [UInt8](repeating: 3, count: 16)
    await measure("raw libsodium: Argon2id INTERACTIVE (2 passes, 64 MiB)", iterations: 1, rounds: quick ? 3 : 7) {
        _ = RawSodium.argon2idInteractive(Array("correct horse battery staple".utf8), salt: salt)
    }
    try await measure(
        "vault: open with passphrase (file open + Argon2id + unwrap)",
        iterations: 1,
        rounds: quick ? 3 : 7
    ) {
        _ = try await CredentialVault.open(
            SQLiteCredentialStore(path: passphraseVaultPath),
            with: .passphrase(SecureBytes(utf8: "correct horse battery staple")),
            logger: logger
        )
    }
    try await measure("vault: open with key file (file open + unwrap)", iterations: quick ? 20 : 200) {
        _ = try await CredentialVault.open(SQLiteCredentialStore(path: path), with: .key(vaultKey), logger: logger)
    }

    // 5. The per-account lock uncontended: raw OFD lock + unlock of one byte on a descriptor kept open (of a scratch
    // file: closing a descriptor of the vault would drop this process's SQLite locks), beside the store's lock (this
    // process's table, then the same fcntl on the vault file's kept descriptor).
    let store = try SQLiteCredentialStore(path: path)
    let rawLockFD = open(dir + "/raw.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    await measure("raw fcntl: F_OFD_SETLK lock + unlock of one byte, open descriptor", iterations: n) {
        var request = flock()
        request.l_type = Int16(F_WRLCK)
        request.l_whence = Int16(SEEK_SET)
        request.l_start = 12345
        request.l_len = 1
        precondition(fcntl(rawLockFD, 37, &request) == 0)  // F_OFD_SETLK
        request.l_type = Int16(F_UNLCK)
        precondition(fcntl(rawLockFD, 37, &request) == 0)
    }
    close(rawLockFD)
    try await measure(
        "vault: withAccountLock (in-process table + OFD lock on the vault file), uncontended",
        iterations: n
    ) {
        try await store.withAccountLock("tenant-3", timeout: .seconds(5)) {}
    }

    print(
        "Resident memory after 1,000,000 more in-memory accessToken(for:) calls: \(heapGrowthSmall) bytes more with 10 accounts held, \(heapGrowthLarge) bytes more with \(total) held"
    )
    print("| operation | median µs | p90 µs | calls/round |")
    print("|---|---:|---:|---:|")
    for row in rows {
        print(
            "| \(row.name) | \(String(format: "%.2f", row.median)) | \(String(format: "%.2f", row.p90)) | \(row.iterations) |"
        )
    }
}

/// `--make-vault DIR --accounts N`: a vault of N client-credentials accounts (a 1 KiB access token each, valid for a
/// day), built through the library, at DIR/vault.sqlite with its key in DIR/vault.key: for the scale figures of
/// BENCHMARKS.md (the CLI's `token`, `list`, `list --json` and `verify` on it).
nonisolated func makeVault(in dir: String, accounts: Int) async throws {
    let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let key = KeyFileKey.generate()
    let text = key.base64Text()
    let written = text.withUnsafeBytes {
        FileManager.default.createFile(atPath: dir + "/vault.key", contents: Data($0))
    }
    precondition(written && chmod(dir + "/vault.key", 0o600) == 0)
    let vault = try await CredentialVault.create(
        in: SQLiteCredentialStore(path: dir + "/vault.sqlite", create: true),
        slots: [.key(key)],
        logger: logger
    )
    let access = String(repeating: "a", count: 1024)
    for i in 0..<accounts {
        try await vault.addAccount(
            Account(
                name: try AccountName(String(format: "tenant-%06d", i)),
                mode: .clientCredentials,
                clientID: "client-\(i)",
                tokenURL: "https://account.sendcloud.com/oauth2/token",
                accessTokenExpiresAt: Date().addingTimeInterval(86400)
            ),
            secrets: AccountSecrets(
                clientSecret: SecureBytes(utf8: String(repeating: "s", count: 40)),
                accessToken: SecureBytes(utf8: access)
            )
        )
    }
}

/// `--profile-open N`: only `openAccount` N times on a vault of 10 accounts, for `perf record` (BENCHMARKS.md).
nonisolated func profileOpen(_ count: Int) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vault-bench-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try await makeVault(in: dir, accounts: 10)
    let keyText = try Data(contentsOf: URL(fileURLWithPath: dir + "/vault.key"))
    let vault = try await CredentialVault.open(
        SQLiteCredentialStore(path: dir + "/vault.sqlite"),
        with: .key(try KeyFileKey(base64Text: keyText.withUnsafeBytes { SecureBytes(copying: $0) })),
        logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
    )
    let name: AccountName = "tenant-000005"
    for _ in 0..<count { _ = try await vault.openAccount(named: name) }
}

if let index = CommandLine.arguments.firstIndex(of: "--profile-open"), index + 1 < CommandLine.arguments.count {
    try await profileOpen(Int(CommandLine.arguments[index + 1]) ?? 100_000)
} else if let index = CommandLine.arguments.firstIndex(of: "--make-vault"), index + 1 < CommandLine.arguments.count {
    let count = CommandLine.arguments.firstIndex(of: "--accounts").flatMap { Int(CommandLine.arguments[$0 + 1]) }
    try await makeVault(in: CommandLine.arguments[index + 1], accounts: count ?? 100)
} else {
    try await runBenchmarks()
}

/// GRDB called directly, as the raw GRDB baselines. The helpers are synchronous functions, so that GRDB's
/// synchronous overloads are the ones called.
enum Row_ {
    static func syncFetch(_ queue: DatabaseQueue, _ name: String) -> Bool {
        (try! queue.read { try fetch($0, name) }) != nil
    }

    static func syncWrite(_ queue: DatabaseQueue, _ sql: String, transaction: Bool) {
        if transaction {
            try! queue.write { try $0.execute(sql: sql) }
        } else {
            try! queue.writeWithoutTransaction { try $0.execute(sql: sql) }
        }
    }

    static func fetch(_ db: Database, _ name: String) throws -> GRDB.Row? {
        try GRDB.Row.fetchOne(db, sql: "SELECT * FROM account WHERE name = ?", arguments: [name])
    }
}
