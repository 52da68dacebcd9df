import Foundation

/// The PostgreSQL server the tests use: the one `scripts/with-postgres` started (PGHOST, PGPORT, PGUSER,
/// PGPASSWORD, PGDATABASE). Tests that need it fail — never skip — with a clear message when it is not configured.
public struct PostgresTestServer: Sendable {
    public let host: String
    public let port: Int
    public let user: String
    public let password: String
    public let database: String

    /// The configured server.
    /// - Throws: ``TestSupportError`` naming what to do when PGHOST/PGPORT/PGUSER/PGPASSWORD are not set.
    public static func configured() throws -> PostgresTestServer {
        let env = ProcessInfo.processInfo.environment
        guard let host = env["PGHOST"], let port = env["PGPORT"].flatMap(Int.init), let user = env["PGUSER"],
            let password = env["PGPASSWORD"]
        else {
            throw TestSupportError(
                description: "no PostgreSQL server is configured for the tests: run them inside scripts/with-postgres "
                    + "(it starts a throwaway server and sets PGHOST, PGPORT, PGUSER and PGPASSWORD), as the "
                    + "README's test command does"
            )
        }
        return PostgresTestServer(
            host: host,
            port: port,
            user: user,
            password: password,
            database: env["PGDATABASE"] ?? "postgres"
        )
    }

    /// A fresh schema name, so that every test has a vault of its own in the shared database.
    public static func uniqueSchema(_ prefix: String = "t") -> String {
        prefix + "_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
    }

    /// `postgres://user@host:port/db?schema=…` — no password, as a vault location must be.
    public func url(schema: String, extra: String = "") -> String {
        "postgres://\(user)@\(host):\(port)/\(database)?schema=\(schema)\(extra)"
    }

    /// Runs `sql` with `psql` (as an operator or an attacker with SQL access would) and returns its output.
    @discardableResult
    public func psql(_ sql: String) throws -> String {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = ["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql]
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSupportError(
                description: "psql failed (\(process.terminationStatus)): \(String(decoding: errors, as: UTF8.self))"
            )
        }
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The folder of a server of its own (``startPrivate()``), or `nil` for the shared one of `scripts/with-postgres`.
    public let privateDirectory: String?

    public init(
        host: String,
        port: Int,
        user: String,
        password: String,
        database: String,
        privateDirectory: String? = nil
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.privateDirectory = privateDirectory
    }

    /// `scripts/with-postgres`: from the environment it set, else beside this package's sources.
    static var script: String {
        ProcessInfo.processInfo.environment["SENDCLOUD_VAULT_TEST_WITH_POSTGRES"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/with-postgres").path
    }

    /// Starts a server of its own (`scripts/with-postgres --start`), for a test that restarts or stops it: the shared
    /// server must stay up for the tests running beside it. Stop it with ``stopPrivate()``.
    public static func startPrivate() throws -> PostgresTestServer {
        let output = try runScript(["--start"])
        var settings: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard let dir = settings["PGTMP"], let host = settings["PGHOST"],
            let port = settings["PGPORT"].flatMap(Int.init),
            let user = settings["PGUSER"], let password = settings["PGPASSWORD"]
        else { throw TestSupportError(description: "with-postgres --start printed no settings") }
        return PostgresTestServer(
            host: host,
            port: port,
            user: user,
            password: password,
            database: settings["PGDATABASE"] ?? "postgres",
            privateDirectory: dir
        )
    }

    /// Restarts a private server (`pg_ctl restart -m fast`): every connection is cut, the data is kept.
    public func restart() throws {
        guard let privateDirectory else {
            throw TestSupportError(description: "restart only a server of its own (PostgresTestServer.startPrivate())")
        }
        try Self.runScript(["--restart", privateDirectory])
    }

    /// Stops a private server and deletes its data.
    public func stopPrivate() {
        guard let privateDirectory else { return }
        _ = try? Self.runScript(["--stop", privateDirectory])
    }

    /// The environment a CLI child needs to reach this server (PGHOST … PGPASSWORD, PGDATABASE).
    public var environment: [String: String] {
        ["PGHOST": host, "PGPORT": String(port), "PGUSER": user, "PGPASSWORD": password, "PGDATABASE": database]
    }

    /// Runs `scripts/with-postgres` with its output in files, not pipes: the server it starts in the background keeps
    /// the script's standard output and error open, so a pipe would never reach end-of-file.
    @discardableResult
    private static func runScript(_ arguments: [String]) throws -> String {
        let dir = try TempDir(prefix: "with-postgres-out")
        _ = FileManager.default.createFile(atPath: dir.file("out"), contents: nil)
        _ = FileManager.default.createFile(atPath: dir.file("err"), contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("out")))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("err")))
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        process.standardOutput = out
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        let output = FileManager.default.contents(atPath: dir.file("out")) ?? Data()
        let errors = FileManager.default.contents(atPath: dir.file("err")) ?? Data()
        guard process.terminationStatus == 0 else {
            throw TestSupportError(
                description: "with-postgres \(arguments.first ?? "") failed (\(process.terminationStatus)): "
                    + String(decoding: errors, as: UTF8.self)
            )
        }
        return String(decoding: output, as: UTF8.self)
    }
}
