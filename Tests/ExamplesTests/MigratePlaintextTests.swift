import CredentialVault
import Foundation
import GRDB
import TestSupport
import Testing

/// The built `migrate-plaintext` against real files: a JSON file and a SQLite table sealed into a SQLite vault.
@Suite("migrate-plaintext, end to end")
struct MigratePlaintextTests {
    /// The vault's environment plus an unused HOME.
    func migrate(
        _ vault: ExampleVault,
        _ arguments: [String]
    ) async throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        try await BinaryProcess.run(
            "migrate-plaintext",
            arguments,
            environment: vault.environment,
            in: vault.directory
        )
    }

    static let rows: [[String: String]] = [
        ["name": "acme", "client_id": "acme-public", "client_secret": "acme-secret-1b9e"],
        [
            "name": "bolt", "client_id": "bolt-public", "client_secret": "bolt-secret-44ac",
            "refresh_token": "bolt-refresh-0d3f", "access_token": "bolt-access-9e2a",
            "expires_at": "2099-01-01T00:00:00Z", "scope": "api offline_access",
        ],
        [
            "name": "crate", "client_id": "crate-public", "client_secret": "crate-secret-7c1d", "mode": "basic",
            "token_url": "https://account.sendcloud.com/oauth2/token",
        ],
    ]

    static var secrets: [String] {
        rows.flatMap { row in
            ["client_secret", "refresh_token", "access_token"].compactMap { row[$0] }
        }
    }

    func writeJSON(_ rows: [[String: String]], to path: String) throws {
        try JSONSerialization.data(withJSONObject: rows).write(to: URL(fileURLWithPath: path))
    }

    /// Checks that the vault holds `rows` with their secrets.
    func expectSealed(_ rows: [[String: String]], in vault: ExampleVault) async throws {
        #expect(try await vault.vault.accounts().map(\.name.rawValue).sorted() == rows.map { $0["name"]! })
        for row in rows {
            let name = try AccountName(row["name"]!)
            let (account, secrets) = try await vault.vault.openAccount(named: name)
            #expect(account.clientID == row["client_id"])
            #expect(secrets.clientSecret?.unsafeStringValue() == row["client_secret"])
            #expect(secrets.refreshToken?.unsafeStringValue() == row["refresh_token"])
            #expect(secrets.accessToken?.unsafeStringValue() == row["access_token"])
        }
    }

    @Test("a JSON file is sealed into the vault: modes inferred or given, secrets intact, none printed")
    func sealsAJSONFile() async throws {
        let vault = try await ExampleVault.make()
        let input = vault.directory.file("tokens.json")
        try writeJSON(Self.rows, to: input)
        let result = try await migrate(vault, ["--json", input])
        #expect(result.status == 0, "\(result)")
        try await expectSealed(Self.rows, in: vault)
        #expect(try await vault.vault.account(named: "acme").mode == .clientCredentials)
        let bolt = try await vault.vault.account(named: "bolt")
        #expect(bolt.mode == .refreshToken)
        #expect(bolt.scopes == "api offline_access")
        #expect(bolt.accessTokenExpiresAt == ISO8601DateFormatter().date(from: "2099-01-01T00:00:00Z"))
        #expect(try await vault.vault.account(named: "crate").mode == .basic)
        #expect(result.stdout.contains("sealed 3 accounts (3 new, 0 replaced)"))
        #expect(result.stdout.contains("shred -u \(input)"))
        for secret in Self.secrets {
            #expect(!(result.stdout + result.stderr).contains(secret))
        }
    }

    @Test("a SQLite table is sealed into the vault; its other columns are ignored")
    func sealsASQLiteTable() async throws {
        let vault = try await ExampleVault.make()
        let input = vault.directory.file("legacy.sqlite")
        let database = try DatabaseQueue(path: input)
        try await database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE sendcloud_tokens (
                        id INTEGER PRIMARY KEY, name TEXT, client_id TEXT, client_secret TEXT, refresh_token TEXT,
                        access_token TEXT, expires_at INTEGER, token_url TEXT, mode TEXT, scope TEXT,
                        created_at TEXT)
                    """
            )
            for row in Self.rows {
                let expiry = (row["expires_at"])
                    .flatMap { ISO8601DateFormatter().date(from: $0) }.map { Int($0.timeIntervalSince1970) }
                try db.execute(
                    sql: """
                        INSERT INTO sendcloud_tokens (name, client_id, client_secret, refresh_token, access_token,
                            expires_at, token_url, mode, scope, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '2024-01-01')
                        """,
                    arguments: [
                        row["name"], row["client_id"], row["client_secret"],
                        row["refresh_token"], row["access_token"], expiry,
                        row["token_url"], row["mode"], row["scope"],
                    ]
                )
            }
        }
        try database.close()
        let result = try await migrate(vault, ["--sqlite", input, "--table", "sendcloud_tokens"])
        #expect(result.status == 0, "\(result)")
        try await expectSealed(Self.rows, in: vault)
        #expect(
            try await vault.vault.account(named: "bolt").accessTokenExpiresAt
                == ISO8601DateFormatter().date(from: "2099-01-01T00:00:00Z")
        )
        #expect(result.stdout.contains("DROP TABLE"))
        for secret in Self.secrets {
            #expect(!(result.stdout + result.stderr).contains(secret))
        }
    }

    @Test("a malformed row stores nothing, exits non-zero, and its secret is not in the output")
    func malformedRowStoresNothing() async throws {
        let vault = try await ExampleVault.make()
        let input = vault.directory.file("tokens.json")
        let bad: [String: String] = [
            "name": "dent", "client_id": "dent-public", "client_secret": "dent-secret-ff01",
            "refresh_token": "dent-refresh-aa17", "mode": "client-credential",
        ]
        // A row whose name is not valid, whose only other field is a secret.
        let nameless: [String: String] = ["name": "-secret-in-name-5e5e", "client_secret": "nameless-secret-3b3b"]
        try writeJSON(Self.rows + [bad, nameless], to: input)
        let result = try await migrate(vault, ["--json", input])
        #expect(result.status == 65, "\(result)")
        #expect(try await vault.vault.accounts().isEmpty)
        #expect(result.stderr.contains("entry 4 ('dent'): mode must be"))
        #expect(result.stderr.contains("entry 5: name is not a valid account name"))
        #expect(result.stderr.contains("nothing was stored"))
        for secret in Self.secrets + ["dent-secret-ff01", "dent-refresh-aa17", "secret-in-name-5e5e", "3b3b"] {
            #expect(!(result.stdout + result.stderr).contains(secret))
        }
    }

    @Test("existing names are refused without --replace, replaced with it; --dry-run writes nothing")
    func replaceAndDryRun() async throws {
        let vault = try await ExampleVault.make()
        let input = vault.directory.file("tokens.json")
        try writeJSON(Self.rows, to: input)

        let dry = try await migrate(vault, ["--json", input, "--dry-run"])
        #expect(dry.status == 0, "\(dry)")
        #expect(dry.stdout.contains("nothing was written"))
        #expect(try await vault.vault.accounts().isEmpty)

        #expect(try await migrate(vault, ["--json", input]).status == 0)
        var changed = Self.rows
        changed[0]["client_secret"] = "acme-secret-rotated-6a6a"
        try FileManager.default.removeItem(atPath: input)
        try writeJSON(changed, to: input)

        let refused = try await migrate(vault, ["--json", input])
        #expect(refused.status == 65, "\(refused)")
        #expect(refused.stderr.contains("entry 1 ('acme'): an account of this name exists"))
        try await expectSealed(Self.rows, in: vault)

        let replaced = try await migrate(vault, ["--json", input, "--replace"])
        #expect(replaced.status == 0, "\(replaced)")
        #expect(replaced.stdout.contains("sealed 3 accounts (0 new, 3 replaced)"))
        try await expectSealed(changed, in: vault)
    }
}
