import CredentialVault
import Foundation
import TestSupport
import Testing

@testable import CredentialVaultPostgres

@Suite("PostgreSQL locations and passwords (no server needed)")
struct PostgresLocationTests {
    let environment = ["USER": "alice"]

    @Test("a full URL: user, host, port, database, schema, TLS; loopback defaults to sslmode=disable")
    func fullURL() throws {
        let location = try PostgresLocation(
            url: "postgres://vault@db.internal:6432/tenants?schema=eu_vault&sslmode=require",
            environment: environment
        )
        #expect(location.user == "vault" && location.host == "db.internal" && location.port == 6432)
        #expect(location.database == "tenants" && location.schema == "eu_vault" && location.tlsMode == .require)
        let local = try PostgresLocation(url: "postgresql://vault@127.0.0.1/tenants", environment: environment)
        #expect(local.tlsMode == .disable && local.port == 5432 && local.schema == PostgresLocation.defaultSchema)
        let remote = try PostgresLocation(url: "postgres://vault@db.example.com/tenants", environment: environment)
        #expect(remote.tlsMode == .verifyFull)
        // An IP address to a remote server: verify-full cannot check a name, so the mode must be chosen.
        let byAddress = try PostgresLocation(
            url: "postgres://vault@10.0.0.5/db?sslmode=require",
            environment: environment
        )
        #expect(byAddress.tlsMode == .require)
        // The database name is decoded once.
        #expect(try PostgresLocation(url: "postgres://db/100%25", environment: environment).database == "100%")
        #expect(try PostgresLocation(url: "postgres://db/a%2525b", environment: environment).database == "a%25b")
        let ipv6 = try PostgresLocation(url: "postgres://vault@[::1]:5433/db", environment: environment)
        #expect(ipv6.host == "::1" && ipv6.tlsMode == .disable && ipv6.endpoint == "[::1]:5433")
    }

    @Test("missing parts come from libpq's variables, then the defaults")
    func libpqVariables() throws {
        let location = try PostgresLocation(
            url: "postgres:///",
            environment: ["PGHOST": "pg.local", "PGPORT": "7000", "PGUSER": "bob", "PGDATABASE": "crm"]
        )
        #expect(location.host == "pg.local" && location.port == 7000 && location.user == "bob")
        #expect(location.database == "crm")
        let defaults = try PostgresLocation(url: "postgres://", environment: environment)
        #expect(defaults.host == "localhost" && defaults.user == "alice" && defaults.database == "alice")
    }

    @Test("a password in the URL is refused without echoing it")
    func passwordRefused() {
        #expect {
            try PostgresLocation(url: "postgres://vault:hunter2@db/tenants", environment: environment)
        } throws: { error in
            let error = error as! VaultError
            return error.code == .invalidInput && !error.message.contains("hunter2")
                && error.message.contains("PGPASSWORD")
        }
    }

    @Test(
        "malformed or unknown parts are refused",
        arguments: [
            "postgres://db/x?sslmode=prefer", "postgres://db/x?sslmode=verify-ca", "postgres://db/x?schema=Bad-Name",
            "postgres://db/x?schema=", "postgres://db/x?foo=1", "postgres://db/x?schema=a&schema=b",
            "postgres://db/x/y", "postgres://db:99999/x", "postgres://db/x#frag", "postgres://db/x?connect_timeout=0",
            "postgres://db/x?sslrootcert=/ca.pem&sslmode=require", "mysql://db/x",
            "postgres://db/x?schema=\(String(repeating: "a", count: 64))", "postgres:/db/x", "postgresql:db",
            "postgres://db/x?schema=pg_x", "postgres://user%3Ahunter2@db/x",
            "postgres://vault@10.0.0.5/db", "postgres://vault@[2001:db8::1]/db?sslmode=verify-full",
        ]
    )
    func refused(_ url: String) {
        #expect {
            try PostgresLocation(url: url, environment: environment)
        } throws: { ($0 as? VaultError)?.code == .invalidInput }
    }

    @Test("URL schemes are recognised; a path with a colon is not a URL")
    func schemes() {
        #expect(PostgresLocation.hasURLScheme("mysql://h/db"))
        #expect(PostgresLocation.hasURLScheme("typo+x://h"))
        #expect(!PostgresLocation.hasURLScheme("/srv/vault.sqlite"))
        #expect(!PostgresLocation.hasURLScheme("dir/a://b"))
        #expect(!PostgresLocation.hasURLScheme("./postgres:/vault"))
        #expect(PostgresLocation.isPostgresURL("POSTGRES://h/db"))
    }

    @Test("pgpass: the first matching line wins; * matches anything; \\: and \\\\ escape")
    func pgpassLines() throws {
        let location = try PostgresLocation(url: "postgres://vault@db.internal:6432/tenants", environment: environment)
        let text = """
            # comment
            other:6432:tenants:vault:nope
            db.internal:5432:tenants:vault:wrong-port
            db.internal:6432:*:vault:p\\:ass\\\\word
            *:*:*:*:fallback
            """
        #expect(PostgresPassword.password(in: text, for: location) == "p:ass\\word")
        #expect(PostgresPassword.password(in: "*:*:*:*:any", for: location) == "any")
        #expect(PostgresPassword.password(in: "db.internal:6432:other:vault:x", for: location) == nil)
        // libpq takes the password up to the next unescaped ':'.
        #expect(PostgresPassword.password(in: "*:*:*:*:pw:extra", for: location) == "pw")
    }

    @Test("password sources: the tool's file first, then PGPASSWORD, then the pgpass file; unsafe files refused")
    func passwordSources() throws {
        let dir = try TempDir()
        let location = try PostgresLocation(url: "postgres://vault@db.internal/tenants", environment: environment)
        let file = dir.file("pw")
        try "from-file\n".write(toFile: file, atomically: false, encoding: .utf8)
        chmod(file, 0o600)
        let pgpass = dir.file("pgpass")
        try "*:*:*:vault:from-pgpass\n".write(toFile: pgpass, atomically: false, encoding: .utf8)
        chmod(pgpass, 0o600)
        #expect(
            try PostgresPassword.resolve(
                for: location,
                environment: [PostgresPassword.fileVariable: file, "PGPASSWORD": "env", "PGPASSFILE": pgpass]
            ) == "from-file"
        )
        #expect(
            try PostgresPassword.resolve(for: location, environment: ["PGPASSWORD": "env", "PGPASSFILE": pgpass])
                == "env"
        )
        #expect(try PostgresPassword.resolve(for: location, environment: ["PGPASSFILE": pgpass]) == "from-pgpass")
        #expect(try PostgresPassword.resolve(for: location, environment: ["HOME": dir.path]) == nil)
        chmod(pgpass, 0o644)
        #expect {
            try PostgresPassword.resolve(for: location, environment: ["PGPASSFILE": pgpass])
        } throws: { ($0 as? VaultError)?.code == .unsafePermissions }
        chmod(file, 0o640)
        #expect {
            try PostgresPassword.resolve(for: location, environment: [PostgresPassword.fileVariable: file])
        } throws: { ($0 as? VaultError)?.code == .unsafePermissions }
        // A missing pgpass gives no password, as with libpq; a missing password file named for this tool is a
        // configuration error.
        #expect(try PostgresPassword.resolve(for: location, environment: ["PGPASSFILE": dir.file("missing")]) == nil)
        #expect {
            try PostgresPassword.resolve(
                for: location,
                environment: [PostgresPassword.fileVariable: dir.file("missing")]
            )
        } throws: { ($0 as? VaultError)?.code == .accessDenied }
    }
}
