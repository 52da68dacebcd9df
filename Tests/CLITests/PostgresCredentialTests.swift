import Foundation
import TestSupport
import Testing

extension PostgresCLITests {
    /// Where the database password comes from (DESIGN §4): never argv; PGPASSWORD, PGPASSFILE / ~/.pgpass (0600) or
    /// SENDCLOUD_VAULT_DATABASE_PASSWORD_FILE (0600).
    @Suite("PostgreSQL credentials through the CLI")
    struct Credentials {
        let pg: PostgresVault

        init() async throws {
            pg = try PostgresVault()
            try await pg.initVault()
        }

        /// The vault key file only: no password source unless a test adds one.
        var keyOnly: [String: String] { pg.cli.keyEnv }

        /// Runs `list` against the test's vault with exactly `env` (the harness adds only PATH and HOME).
        func list(env: [String: String]) async throws -> CLIResult {
            try await pg.cli.run(["list", "--vault", pg.url], env: env)
        }

        /// A pgpass line for the test server with `password`.
        func pgpassLine(_ password: String) -> String {
            "\(pg.server.host):\(pg.server.port):\(pg.server.database):\(pg.server.user):\(password)\n"
        }

        @Test(
            "a password in the vault URL → 64 before connecting (a listener sees no connection); the password is not echoed",
            arguments: ["--vault", "SENDCLOUD_VAULT"]
        )
        func passwordInURL(given: String) async throws {
            let listener = try LoopbackListener()
            let password = "pw-in-argv-\(UUID().uuidString.prefix(8))"
            let url = "postgres://\(pg.server.user):\(password)@127.0.0.1:\(listener.port)/db?schema=x"
            for command in [["list"], ["token", "acme"], ["init", "--generate-key-file", "new.key"]] {
                let result =
                    given == "--vault"
                    ? try await pg.cli.run(command + ["--vault", url, "--json"], env: pg.env)
                    : try await pg.cli.run(command + ["--json"], env: pg.env.merging(["SENDCLOUD_VAULT": url]) { $1 })
                expectFailure(result, 64, json: true)
                expectNoSecrets(result, [password, pg.server.password])
                #expect(result.stderr.contains("password"), "\(result)")
            }
            #expect(!listener.connectionsArrived(), "the CLI connected although the URL held a password")
            #expect(!pg.cli.exists(pg.cli.root + "/new.key"))
            // The same against a closed port: still 64, never 75 — nothing was tried.
            let closed = "postgres://\(pg.server.user):\(password)@127.0.0.1:\(try closedLoopbackPort())/db"
            let result = try await pg.cli.run(["list", "--vault", closed], env: pg.env)
            expectFailure(result, 64)
            expectNoSecrets(result, [password])
            await pg.dropSchema()
        }

        @Test("PGPASSFILE with mode 0644 → 78 (and PGPASSWORD unset); the password is not printed")
        func readablePgpass() async throws {
            let file = try pg.cli.writeFile("pgpass", pgpassLine(pg.server.password), mode: 0o644)
            let result = try await list(env: keyOnly.merging(["PGPASSFILE": file]) { $1 })
            expectFailure(result, 78)
            #expect(result.stderr.contains(file), "the message does not name the file:\n\(result)")
            expectNoSecrets(result, [pg.server.password])
            // ~/.pgpass likewise.
            let home = try pg.cli.writeFile(".pgpass", pgpassLine(pg.server.password), mode: 0o640)
            let fromHome = try await list(env: keyOnly)
            expectFailure(fromHome, 78)
            #expect(fromHome.stderr.contains(home), "\(fromHome)")
            expectNoSecrets(fromHome, [pg.server.password])
            await pg.dropSchema()
        }

        @Test("a 0600 pgpass (PGPASSFILE, or ~/.pgpass) with the right password works")
        func privatePgpass() async throws {
            let file = try pg.cli.writeFile(
                "pgpass",
                "# comment\nother-host:1:db:user:nope\n" + pgpassLine(pg.server.password),
                mode: 0o600
            )
            let result = try await list(env: keyOnly.merging(["PGPASSFILE": file]) { $1 })
            #expect(result.status == 0, "\(result)")
            expectNoSecrets(result, [pg.server.password])
            try pg.cli.writeFile(".pgpass", "*:*:*:*:\(pg.server.password)\n", mode: 0o600)
            let fromHome = try await list(env: keyOnly)
            #expect(fromHome.status == 0, "\(fromHome)")
            await pg.dropSchema()
        }

        @Test("a wrong PGPASSWORD → 78 with a clear message; neither the wrong nor the right password is printed")
        func wrongPassword() async throws {
            let wrong = "wrong-\(UUID().uuidString.prefix(12))"
            for json in [false, true] {
                let result = try await pg.cli.run(
                    ["list", "--vault", pg.url] + (json ? ["--json"] : []),
                    env: keyOnly.merging(["PGPASSWORD": wrong]) { $1 }
                )
                expectFailure(result, 78, json: json)
                #expect(result.stderr.contains("password authentication failed"), "\(result)")
                #expect(result.stderr.contains("\(pg.server.host):\(pg.server.port)"), "\(result)")
                expectNoSecrets(result, [wrong, pg.server.password])
            }
            // No password at all, while the server asks for one: 78 too, naming the sources.
            let none = try await list(env: keyOnly)
            expectFailure(none, 78)
            #expect(none.stderr.contains("PGPASSWORD"), "\(none)")
            await pg.dropSchema()
        }

        @Test("SENDCLOUD_VAULT_DATABASE_PASSWORD_FILE: 0644 → 78; 0600 works and comes before PGPASSWORD")
        func passwordFile() async throws {
            let readable = try pg.cli.writeFile("db-password", pg.server.password + "\n", mode: 0o644)
            let refused = try await list(
                env: keyOnly.merging(["SENDCLOUD_VAULT_DATABASE_PASSWORD_FILE": readable]) { $1 }
            )
            expectFailure(refused, 78)
            #expect(refused.stderr.contains(readable), "\(refused)")
            expectNoSecrets(refused, [pg.server.password])
            // Not silently passed over for PGPASSWORD either: the first source present is the only one used.
            let notFallenThrough = try await list(
                env: keyOnly.merging([
                    "SENDCLOUD_VAULT_DATABASE_PASSWORD_FILE": readable, "PGPASSWORD": pg.server.password,
                ]) { $1 }
            )
            expectFailure(notFallenThrough, 78)

            let wrong = "wrong-\(UUID().uuidString.prefix(12))"
            let private_ = try pg.cli.writeFile("db-password-private", pg.server.password + "\n", mode: 0o600)
            let result = try await list(
                env: keyOnly.merging(["SENDCLOUD_VAULT_DATABASE_PASSWORD_FILE": private_, "PGPASSWORD": wrong]) { $1 }
            )
            #expect(result.status == 0, "\(result)")
            expectNoSecrets(result, [pg.server.password, wrong])
            await pg.dropSchema()
        }
    }

    /// Locations the CLI does not know, and the PostgreSQL location's own failures (DESIGN §6 exit codes).
    @Suite("PostgreSQL and unknown vault locations")
    struct Locations {
        let pg: PostgresVault

        init() throws { pg = try PostgresVault() }

        /// Every file and folder under the harness's root, but its output folder.
        func tree() throws -> Set<String> {
            let root = pg.cli.root
            let all = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
            return Set(all.filter { !$0.hasPrefix(".io") })
        }

        @Test(
            "an unknown URL scheme → 64, and nothing is created",
            arguments: [
                (["init", "--generate-key-file", "k"], ["SENDCLOUD_VAULT": "mysql://u@h/db"]),
                (["list", "--vault", "typo://x"], [:]),
                (["init", "--vault", "postgress://u@127.0.0.1/db", "--generate-key-file", "k"], [:]),
                (
                    ["add", "acme", "--client-id", "c", "--client-secret-file", "-"],
                    ["SENDCLOUD_VAULT": "sqlite://v.db"]
                ),
                (["token", "acme", "--vault", "mysql://u@h/db", "--json"], [:]),
            ] as [([String], [String: String])]
        )
        func unknownScheme(arguments: [String], env: [String: String]) async throws {
            let before = try tree()
            let result = try await pg.cli.run(
                arguments,
                env: env.merging(pg.env) { given, _ in given },
                stdin: Data("s".utf8)
            )
            expectFailure(result, 64, json: arguments.contains("--json"))
            #expect(result.stderr.contains("://"), "the message does not name the location's scheme:\n\(result)")
            let after = try tree()
            #expect(after == before, "something was created: \(after.subtracting(before).sorted())")
            #expect(!pg.cli.exists(pg.cli.root + "/mysql:"))
            #expect(!pg.cli.exists(pg.cli.root + "/k"))
            #expect(!pg.cli.exists(pg.cli.root + "/.local"))
        }

        @Test("init where the schema already holds a vault → 73, the vault unchanged")
        func initTwice() async throws {
            try await pg.initVault()
            let header = try await pg.psql("SELECT encode(vault_id, 'hex') FROM \"\(pg.schema)\".vault_header")
            let again = try await pg.cli.run(
                ["init", "--vault", pg.url, "--generate-key-file", pg.cli.root + "/second.key", "--json"],
                env: pg.databaseEnv
            )
            expectFailure(again, 73, json: true)
            #expect(!pg.cli.exists(pg.cli.root + "/second.key"))
            #expect(try await pg.psql("SELECT encode(vault_id, 'hex') FROM \"\(pg.schema)\".vault_header") == header)
            try await pg.succeed(["verify"])
            await pg.dropSchema()
        }

        @Test("list on a schema without a vault → 66 (a missing schema, or an empty one), nothing created")
        func noVault() async throws {
            let missing = try await pg.run(["list", "--json"])
            expectFailure(missing, 66, json: true)
            #expect(try await pg.psql("SELECT count(*) FROM pg_namespace WHERE nspname = '\(pg.schema)'") == "0")
            try await pg.psql("CREATE SCHEMA \"\(pg.schema)\"")
            let empty = try await pg.run(["list"])
            expectFailure(empty, 66)
            #expect(try await pg.psql("SELECT count(*) FROM pg_tables WHERE schemaname = '\(pg.schema)'") == "0")
            await pg.dropSchema()
        }

        @Test("the database unreachable (a closed port) → 75 naming host:port; a refusing password is not needed")
        func unreachable() async throws {
            let port = try closedLoopbackPort()
            let url = "postgres://\(pg.server.user)@127.0.0.1:\(port)/\(pg.server.database)?schema=\(pg.schema)"
            for command in [["list"], ["token", "acme"], ["verify"], ["init", "--generate-key-file", "k"]] {
                for json in [false, true] {
                    let result = try await pg.cli.run(
                        command + ["--vault", url] + (json ? ["--json"] : []),
                        env: command[0] == "init" ? pg.databaseEnv : pg.env
                    )
                    expectFailure(result, 75, json: json)
                    #expect(
                        result.stderr.contains("127.0.0.1:\(port)"),
                        "the message does not name the server:\n\(result)"
                    )
                    expectNoSecrets(result, [pg.server.password])
                }
            }
            #expect(!pg.cli.exists(pg.cli.root + "/k"))
        }
    }
}
