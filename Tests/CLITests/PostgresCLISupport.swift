import Foundation
import SendcloudTesting
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The CLI against the PostgreSQL store, end to end: real `sendcloud-vault` processes and the real server that
/// `scripts/with-postgres` started (without it these tests fail, never skip).
///
/// Serialized: these tests start many processes each, on a small machine. (The one that restarts a server restarts a
/// private one, ``PostgresTestServer/startPrivate()``, never the shared one.)
@Suite("PostgreSQL store through the CLI", .serialized)
enum PostgresCLITests {}

/// One test's vault in a schema of its own on the test server, driven through a ``CLIHarness``.
///
/// The database password reaches the CLI in `PGPASSWORD` (the harness gives a child only PATH, HOME and what is passed
/// explicitly), never in argv: the URL holds no password.
struct PostgresVault: Sendable {
    let cli: CLIHarness
    let server: PostgresTestServer
    let schema: String

    /// A vault on `server`, by default the shared server of `scripts/with-postgres`.
    init(server: PostgresTestServer? = nil) throws {
        let server = try server ?? PostgresTestServer.configured()
        let schema = PostgresTestServer.uniqueSchema("cli")
        self.server = server
        self.schema = schema
        cli = try CLIHarness(vault: server.url(schema: schema), vaultEnvironment: ["PGPASSWORD": server.password])
    }

    /// `postgres://user@host:port/db?schema=…` (no password).
    var url: String { server.url(schema: schema) }
    /// The account table, quoted, for psql.
    var accountTable: String { "\"\(schema)\".account" }
    /// What reaches the server: the password, from the environment.
    var databaseEnv: [String: String] { cli.vaultEnvironment }
    /// The database password and the vault key file.
    var env: [String: String] { databaseEnv.merging(cli.keyEnv) { $1 } }

    /// ``CLIHarness/vaultRun(_:env:stdin:sourceLocation:)``: `--vault URL` appended, the password and the key file in
    /// the environment (`env` overrides them).
    func run(
        _ arguments: [String],
        env extra: [String: String] = [:],
        stdin: Data? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CLIResult {
        try await cli.vaultRun(arguments, env: extra, stdin: stdin, sourceLocation: sourceLocation)
    }

    /// ``run(_:env:stdin:sourceLocation:)`` that must exit 0.
    @discardableResult
    func succeed(
        _ arguments: [String],
        env extra: [String: String] = [:],
        stdin: Data? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CLIResult {
        try await cli.succeed(arguments, env: extra, stdin: stdin, sourceLocation: sourceLocation)
    }

    /// `init` of this schema with a generated key file at the harness's ``CLIHarness/keyFile``.
    @discardableResult
    func initVault(sourceLocation: SourceLocation = #_sourceLocation) async throws -> CLIResult {
        try await cli.initVault(sourceLocation: sourceLocation)
    }

    /// ``CLIHarness/addRefreshAccount(_:server:clientID:secret:refreshToken:extra:sourceLocation:)`` on this vault.
    @discardableResult
    func addRefreshAccount(
        _ name: String,
        fake: FakeSendcloud,
        clientID: String,
        secret: String,
        refreshToken: String? = nil,
        extra: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        try await cli.addRefreshAccount(
            name,
            server: fake,
            clientID: clientID,
            secret: secret,
            refreshToken: refreshToken,
            extra: extra,
            sourceLocation: sourceLocation
        )
    }

    /// `show NAME --reveal --json`, parsed.
    func reveal(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
        let result = try await succeed(["show", name, "--reveal", "--json"], sourceLocation: sourceLocation)
        return try #require(result.jsonObject, "not a JSON object:\n\(result)", sourceLocation: sourceLocation)
    }

    /// Runs `sql` with psql, as someone with SQL access to the database would (off the cooperative pool: it blocks).
    @discardableResult
    func psql(_ sql: String) async throws -> String {
        let server = server
        return try await offThread { try server.psql(sql) }
    }

    /// Restarts the (private) server (every connection is cut), off the cooperative pool.
    func restartServer() async throws {
        let server = server
        try await offThread { try server.restart() }
    }

    /// Drops this test's schema (best effort: the server is a throwaway one anyway).
    func dropSchema() async {
        _ = try? await psql("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE")
    }

    // MARK: Instances

    /// Starts `sendcloud-vault arguments` as an instance of its own: a directory `instance-<index>` inside the
    /// harness's root that is its working directory, HOME and (`tmp/`) TMPDIR, holding its own copy of the vault key
    /// file; the vault location in `SENDCLOUD_VAULT`. Nothing but the database is shared between instances.
    func startInstance(_ index: Int, _ arguments: [String]) throws -> PostgresCLIProcess {
        let directory = cli.root + "/instance-\(index)"
        for path in [directory, directory + "/tmp"] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            guard chmod(path, 0o700) == 0 else { throw HarnessError(description: "chmod \(path) failed") }
        }
        let key = directory + "/vault.key"
        try FileManager.default.copyItem(atPath: cli.keyFile, toPath: key)
        guard chmod(key, 0o600) == 0 else { throw HarnessError(description: "chmod \(key) failed") }
        return try PostgresCLIProcess.start(
            binary: cli.binary,
            arguments: arguments,
            directory: directory,
            env: [
                "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                "HOME": directory,
                "TMPDIR": directory + "/tmp",
                "SENDCLOUD_VAULT": url,
                "SENDCLOUD_VAULT_KEY_FILE": key,
                "PGPASSWORD": server.password,
            ]
        )
    }

    /// Which of `processes` are at an account lock of this vault's schema — waiting for it or holding it — and the
    /// server's view, for a failure message.
    ///
    /// A process is at the lock when one of its connections (matched by client port: the process's own TCP sockets
    /// to the server, found in /proc) last ran a lock statement: the advisory-lock attempt a waiter polls, or the
    /// lease claim and renewal of the holder. `pg_stat_activity.query` keeps a session's last statement while it is
    /// idle, so a waiter between two polls still shows its attempt. Only the connections of `processes` count, so
    /// other tests' sessions on the same server cannot.
    func atLock(_ processes: [PostgresCLIProcess]) async throws -> (pids: Set<Int32>, activity: String) {
        let activity = try await psql(
            "SELECT client_port, state, regexp_replace(left(query, 90), '\\s+', ' ', 'g') FROM pg_stat_activity "
                + "WHERE pid <> pg_backend_pid() AND client_port IS NOT NULL AND application_name = 'sendcloud-vault' "
                + "ORDER BY client_port"
        )
        var lockPorts: Set<Int> = []
        for line in activity.split(separator: "\n") {
            let fields = line.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, let port = Int(fields[0]) else { continue }
            let query = fields[2]
            if query.contains("pg_try_advisory_lock") || query.contains("account_lease") { lockPorts.insert(port) }
        }
        var pids: Set<Int32> = []
        var ports: [String] = []
        for process in processes {
            let own = PostgresCLIProcess.tcpPorts(of: process.pid, remotePort: server.port)
            ports.append("\(process.pid): \(own.sorted())")
            if !own.isDisjoint(with: lockPorts) { pids.insert(process.pid) }
        }
        return (pids, "pg_stat_activity (client_port|state|query):\n\(activity)\nprocess ports: \(ports)")
    }
}

/// Polls `condition` (every 20 ms) until it holds or `seconds` pass; returns whether it held.
func eventually(
    within seconds: Double,
    _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// Runs blocking work on a thread of its own, so that it does not hold one of the cooperative pool's few threads.
func offThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// A TCP port on 127.0.0.1 on which nothing listens (bound, then closed).
func closedLoopbackPort() throws -> Int {
    let listener = try LoopbackListener()
    let port = listener.port
    listener.close()
    return port
}

/// A listening TCP socket on 127.0.0.1 that never accepts: ``connectionsArrived()`` tells whether a client connected
/// (the kernel completes the handshake into the backlog without an accept).
final class LoopbackListener: Sendable {
    private let socketFD: Mutex<Int32>
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError(description: "socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            Glibc.close(fd)
            throw HarnessError(description: "cannot listen on 127.0.0.1")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        socketFD = Mutex(fd)
    }

    /// Whether a connection is waiting in the backlog (a non-blocking accept; the connection is closed).
    func connectionsArrived() -> Bool {
        socketFD.withLock { fd in
            guard fd >= 0 else { return false }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            let accepted = accept(fd, nil, nil)
            guard accepted >= 0 else { return false }
            Glibc.close(accepted)
            return true
        }
    }

    func close() {
        socketFD.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }

    deinit { close() }
}

/// A `sendcloud-vault` process started without waiting for it (an instance of its own, or one to kill), standard
/// output and error into files of its directory, standard input empty.
final class PostgresCLIProcess: Sendable {
    private struct State {
        var status: Int32?
        var killedBySignal = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let process: ChildProcess
    let outPath: String
    let errPath: String
    private let state = Mutex(State())

    private init(process: ChildProcess, outPath: String, errPath: String) {
        self.process = process
        self.outPath = outPath
        self.errPath = errPath
    }

    var pid: Int32 { process.processIdentifier }

    /// Whether the process ended by a signal (only meaningful once it has ended).
    var killedBySignal: Bool { state.withLock { $0.killedBySignal } }

    static func start(
        binary: String,
        arguments: [String],
        directory: String,
        env: [String: String]
    ) throws -> PostgresCLIProcess {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = env
        let id = UUID().uuidString
        let outPath = directory + "/\(id).out"
        let errPath = directory + "/\(id).err"
        guard FileManager.default.createFile(atPath: outPath, contents: nil),
            FileManager.default.createFile(atPath: errPath, contents: nil)
        else { throw HarnessError(description: "cannot create output files in \(directory)") }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let running = PostgresCLIProcess(process: process, outPath: outPath, errPath: errPath)
        process.terminationHandler = { ended in
            let waiters = running.state.withLock { state in
                state.status = ended.terminationStatus
                state.killedBySignal = ended.terminationReason == .uncaughtSignal
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
        try process.run()
        // A hung process must not hang the suite.
        let pid = process.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 180) {
            running.state.withLock { state in
                if state.status == nil { _ = Glibc.kill(pid, SIGKILL) }
            }
        }
        return running
    }

    /// Sends SIGKILL (if it still runs).
    func kill() {
        let pid = pid
        state.withLock { state in
            if state.status == nil { _ = Glibc.kill(pid, SIGKILL) }
        }
    }

    /// Waits for the process to end; its status and output.
    func wait() async throws -> CLIResult {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.status != nil { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
        let status = state.withLock { $0.status ?? -1 }
        return CLIResult(
            status: status,
            stdout: String(decoding: try Data(contentsOf: URL(fileURLWithPath: outPath)), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: URL(fileURLWithPath: errPath)), as: UTF8.self)
        )
    }

    /// The local ports of `pid`'s TCP connections to `remotePort` (Linux: its socket inodes in /proc/PID/fd, matched
    /// in /proc/net/tcp and tcp6).
    static func tcpPorts(of pid: Int32, remotePort: Int) -> Set<Int> {
        let fdDirectory = "/proc/\(pid)/fd"
        var inodes: Set<Substring> = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: fdDirectory)) ?? [] {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: fdDirectory + "/" + entry),
                target.hasPrefix("socket:[")
            else { continue }
            inodes.insert(Substring(target.dropFirst("socket:[".count).dropLast()))
        }
        func port(_ address: Substring) -> Int? {
            address.split(separator: ":").last.flatMap { Int($0, radix: 16) }
        }
        var ports: Set<Int> = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = readWholeFile(table) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 9, inodes.contains(fields[9]), port(fields[2]) == remotePort,
                    let local = port(fields[1])
                else { continue }
                ports.insert(local)
            }
        }
        return ports
    }
}

/// The whole of a file, read until end of file. Not `String(contentsOfFile:)`: /proc files report a size of 0, and it
/// reads only the first page of them (about 4 KB of /proc/net/tcp, some 27 of its hundreds of lines on a test machine).
func readWholeFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { Glibc.close(fd) }
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { return nil }
        if count == 0 { break }
        data.append(contentsOf: buffer[0..<count])
    }
    return String(decoding: data, as: UTF8.self)
}
