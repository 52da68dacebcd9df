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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = ["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql]
        var env = ProcessInfo.processInfo.environment
        env["PGHOST"] = host
        env["PGPORT"] = String(port)
        env["PGUSER"] = user
        env["PGPASSWORD"] = password
        env["PGDATABASE"] = database
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

    /// Restarts the server (`pg_ctl restart -m fast`): every connection is cut. Needs `scripts/with-postgres`'s
    /// SENDCLOUD_VAULT_TEST_PGCTL and SENDCLOUD_VAULT_TEST_PGDATA.
    public func restart() throws {
        let env = ProcessInfo.processInfo.environment
        guard let pgctl = env["SENDCLOUD_VAULT_TEST_PGCTL"], let data = env["SENDCLOUD_VAULT_TEST_PGDATA"],
            let options = env["SENDCLOUD_VAULT_TEST_PGOPTIONS"]
        else {
            throw TestSupportError(description: "restarting needs the server of scripts/with-postgres")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", "\(pgctl) -D \"$1\" -l \"$1/../log\" -m fast -w -t 30 -o \"$2\" restart >/dev/null", "sh", data,
            options,
        ]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestSupportError(description: "pg_ctl restart failed (\(process.terminationStatus))")
        }
    }
}
