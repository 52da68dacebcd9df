import Foundation
import SendcloudTesting
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `export FILE` and `import FILE`: a sealed backup moved between vaults with different data keys, run as a user
/// would with the built binary and a token endpoint on 127.0.0.1.
// One test at a time: each starts many processes, and the whole suite shares two cores with timing-sensitive tests.
@Suite("export and import of a sealed backup", .serialized)
struct ExportImportTests {
    static let ccClient = "backup-cc-client"
    static let ccSecret = "backup-cc-secret-3f9a"
    static let rtClient = "backup-rt-client"
    static let rtSecret = "backup-rt-secret-77c1"
    static let passphrase = "backup-passphrase-e41b"

    /// The source vault, and the target vault (its own key file, so its own data key).
    let source: CLIHarness
    let target: CLIHarness
    let server: FakeSendcloud

    init() async throws {
        source = try CLIHarness()
        target = try CLIHarness()
        server = try await FakeSendcloud.start(registering: [
            Self.ccClient: Self.ccSecret, Self.rtClient: Self.rtSecret,
        ])
        try await source.initVault()
        try await target.initVault()
    }

    /// `acme` (client-credentials, with an access token obtained from the server), `bolt` (refresh-token, as added),
    /// `crate` (refresh-token, reauth-required with the server's error after a refused refresh). Returns every secret.
    @discardableResult
    func seedSource() async throws -> [String] {
        try await source.addAccount(
            "acme",
            clientID: Self.ccClient,
            secret: Self.ccSecret,
            extra: ["--token-url", server.tokenURL, "--scope", "api"]
        )
        let token = try await source.succeed(["token", "acme"]).stdout.trimmingCharacters(in: .newlines)
        let bolt = try await source.addRefreshAccount(
            "bolt",
            server: server,
            clientID: Self.rtClient,
            secret: Self.rtSecret
        )
        try await source.addRefreshAccount(
            "crate",
            server: server,
            clientID: Self.rtClient,
            secret: Self.rtSecret,
            refreshToken: "rt-never-issued-5d"
        )
        let refused = try await source.vaultRun(["token", "crate"])
        try #require(refused.status == 80, "\(refused)")
        return [Self.ccSecret, Self.rtSecret, token, bolt, "rt-never-issued-5d", Self.passphrase]
    }

    /// A 0600 file holding the backup passphrase.
    func passphraseFile(_ cli: CLIHarness, _ text: String = passphrase) throws -> String {
        try cli.writeFile("backup-pass", text + "\n")
    }

    /// Exports the source vault under the passphrase; returns the backup's path.
    func exportWithPassphrase(_ name: String = "vault.scvb") async throws -> String {
        let file = source.root + "/" + name
        try await source.succeed(["export", file, "--backup-passphrase-file", try passphraseFile(source)])
        return file
    }

    func everything(_ cli: CLIHarness) async throws -> [String: NSDictionary] { try await allAccounts(cli) }

    func finish() async { await server.stop() }

    @Test(
        "round trip into a vault with another data key: every field, secret, status and generation kept; tokens usable"
    )
    func roundTrip() async throws {
        let secrets = try await seedSource()
        let before = try await everything(source)
        #expect(before["crate"]?["status"] as? String == "reauth-required")
        #expect(before["acme"]?["access_token"] is String)
        let file = try await exportWithPassphrase()

        let imported = try await target.succeed([
            "import", file, "--backup-passphrase-file", try passphraseFile(target),
        ])
        #expect(imported.stdout.contains("Imported 3 account(s)"), "\(imported)")
        #expect(imported.stdout.contains("added 3 (acme, bolt, crate)"), "\(imported)")
        expectNoSecrets(imported, secrets)
        let after = try await everything(target)
        #expect(after == before)
        // The two vaults really have different keys: the source's key file does not open the target.
        let crossed = try await target.vaultRun(["list"], env: source.keyEnv)
        #expect(crossed.status == 77, "\(crossed)")

        // The imported access token is served from the vault and is valid at the endpoint.
        let requests = server.stats.tokenRequests
        let token = try await target.succeed(["token", "acme"]).stdout.trimmingCharacters(in: .newlines)
        #expect(token == before["acme"]?["access_token"] as? String)
        #expect(server.isAccessTokenValid(token))
        #expect(server.stats.tokenRequests == requests)
        // The imported client secret obtains a new token, the imported refresh token refreshes.
        let forced = try await target.succeed(["refresh", "acme", "--force"])
        expectNoSecrets(forced, secrets)
        let fresh = try await target.succeed(["token", "acme"]).stdout.trimmingCharacters(in: .newlines)
        #expect(fresh != token && server.isAccessTokenValid(fresh))
        let bolt = try await target.succeed(["token", "bolt"]).stdout.trimmingCharacters(in: .newlines)
        #expect(server.isAccessTokenValid(bolt))
        #expect(server.stats.refreshGrants >= 1)
        // Still reauth-required: no request made.
        let crate = try await target.vaultRun(["token", "crate"])
        #expect(crate.status == 80, "\(crate)")
        await finish()
    }

    @Test("the backup file is 0600 and holds no secret, passphrase or vault key in clear; nothing is printed of them")
    func noSecretInClear() async throws {
        let secrets = try await seedSource()
        let file = source.root + "/env.scvb"
        let result = try await source.succeed(
            ["export", file],
            env: ["SENDCLOUD_VAULT_BACKUP_PASSPHRASE": Self.passphrase]
        )
        expectNoSecrets(result, secrets)
        #expect(try source.mode(of: file) == 0o600)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        #expect(bytes.count > 130)
        let vaultKey = try String(contentsOfFile: source.keyFile, encoding: .utf8).trimmingCharacters(in: .newlines)
        for secret in secrets + [vaultKey] {
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(secret.prefix(6))… is in the backup in clear")
        }
        for name in ["acme", "bolt", "crate", Self.ccClient, Self.rtClient, "reauth-required", "invalid_grant"] {
            #expect(bytes.range(of: Data(name.utf8)) == nil, "metadata '\(name)' is in the backup in clear")
        }
        // Without --force an existing file is refused and kept; --force replaces it, still 0600.
        let again = try await source.vaultRun(
            ["export", file],
            env: ["SENDCLOUD_VAULT_BACKUP_PASSPHRASE": Self.passphrase]
        )
        #expect(again.status == 73, "\(again)")
        #expect(again.stderr.contains("--force"), "\(again)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == bytes)
        try await source.succeed(
            ["export", file, "--force"],
            env: ["SENDCLOUD_VAULT_BACKUP_PASSPHRASE": Self.passphrase]
        )
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) != bytes)
        #expect(try source.mode(of: file) == 0o600)
        let left = try FileManager.default.contentsOfDirectory(atPath: source.root).filter { $0.contains(".tmp-") }
        #expect(left.isEmpty, "temporary files left: \(left)")
        await finish()
    }

    @Test("a flipped byte in every part of the backup, or a truncated or extended one → 65, and nothing is imported")
    func damagedBackups() async throws {
        try await seedSource()
        let keyFile = try source.writeRandomKey("backup.key")
        let file = source.root + "/keyed.scvb"
        try await source.succeed(["export", file, "--backup-key-file", keyFile])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        // The layout: a 130-byte header, then chunks of `length (u32 BE) ‖ ciphertext`; the last 16 bytes of a
        // chunk are its tag.
        var chunks: [Range<Int>] = []
        var offset = 130
        while offset < bytes.count {
            let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            chunks.append(offset..<(offset + 4 + length))
            offset += 4 + length
        }
        try #require(offset == bytes.count && chunks.count == 4, "unexpected layout")
        let offsets: [(String, Int)] = [
            ("magic", 0), ("version", 8), ("secret kind", 9), ("salt", 12), ("KDF limits", 30),
            ("stream header", 50), ("key check", 70), ("checksum", 110), ("last header byte", 129),
            ("manifest length", chunks[0].lowerBound + 3), ("manifest ciphertext", chunks[0].lowerBound + 6),
            ("manifest tag", chunks[0].upperBound - 1), ("record length", chunks[1].lowerBound),
            ("record ciphertext", chunks[1].lowerBound + 10), ("record tag", chunks[1].upperBound - 8),
            ("final record", chunks[3].lowerBound + 20), ("final tag", bytes.count - 1),
        ]
        // The target already holds an account; it must be all that is there afterwards.
        try await target.addAccount("zed", secret: "zed-secret-1")
        let untouched = try await everything(target)
        let key = try target.writeFile("backup.key", try String(contentsOfFile: keyFile, encoding: .utf8))
        var variants: [(String, [UInt8])] = offsets.map { name, at in
            var damaged = bytes
            damaged[at] ^= 0x04
            return ("flipped \(name) at \(at)", damaged)
        }
        for cut in [0, 5, 129, 131, chunks[0].upperBound, chunks[1].upperBound - 1, bytes.count - 1] {
            variants.append(("truncated to \(cut)", Array(bytes[0..<cut])))
        }
        variants.append(("a byte appended", bytes + [0]))
        variants.append(("the last chunk repeated", bytes + bytes[chunks[3]]))
        for (what, damaged) in variants {
            let path = try target.writeFile("damaged.scvb", Data(damaged))
            let result = try await target.vaultRun(["import", path, "--backup-key-file", key, "--json"])
            expectFailure(result, 65, json: true)
            if result.status != 65 { Issue.record("\(what): \(result)") }
        }
        #expect(try await everything(target) == untouched)
        // The intact backup imports.
        let path = try target.writeFile("intact.scvb", Data(bytes))
        try await target.succeed(["import", path, "--backup-key-file", key])
        #expect(try await everything(target).count == 4)
        await finish()
    }

    @Test("the wrong backup passphrase or key, or the other kind of secret → 77, nothing imported")
    func wrongSecret() async throws {
        try await seedSource()
        let file = try await exportWithPassphrase()
        let wrongPass = try target.writeFile("wrong-pass", "not-the-passphrase\n")
        let wrongKey = try target.writeRandomKey("wrong.key")
        for arguments in [["--backup-passphrase-file", wrongPass], ["--backup-key-file", wrongKey]] {
            let result = try await target.vaultRun(["import", file, "--json"] + arguments)
            expectFailure(result, 77, json: true)
            expectNoSecrets(result, [Self.passphrase, "not-the-passphrase"])
        }
        let viaEnv = try await target.vaultRun(["import", file], env: ["SENDCLOUD_VAULT_BACKUP_PASSPHRASE": "nope"])
        expectFailure(viaEnv, 77)
        let keyFile = try source.writeRandomKey("backup.key")
        let keyed = source.root + "/keyed.scvb"
        try await source.succeed(["export", keyed, "--backup-key-file", keyFile])
        let otherKey = try await target.vaultRun(["import", keyed, "--backup-key-file", wrongKey])
        expectFailure(otherKey, 77)
        #expect(try await target.succeed(["list", "--json"]).jsonArray?.isEmpty == true)
        await finish()
    }

    @Test("an existing name → 73 and nothing imported; --replace writes over it with a generation above the old one")
    func existingNames() async throws {
        try await seedSource()
        let file = try await exportWithPassphrase()
        let pass = try passphraseFile(target)
        // The target's own `bolt` has been written a few times: its generation is above the backup's.
        try await target.addAccount(
            "bolt",
            clientID: Self.ccClient,
            secret: Self.ccSecret,
            extra: ["--token-url", server.tokenURL]
        )
        for _ in 0..<3 { try await target.succeed(["refresh", "bolt", "--force"]) }
        let old = try await target.reveal("bolt")
        let oldGeneration = try #require(old["generation"] as? Int)
        #expect(oldGeneration > (try await source.reveal("bolt")["generation"] as? Int ?? 0))
        let refused = try await target.vaultRun(["import", file, "--backup-passphrase-file", pass, "--json"])
        expectFailure(refused, 73, json: true)
        #expect(refused.stderr.contains("bolt"), "\(refused)")
        #expect(try await target.succeed(["list", "--json"]).jsonArray?.count == 1)
        #expect(try await target.reveal("bolt") as NSDictionary == old as NSDictionary)

        let replaced = try await target.succeed([
            "import", file, "--backup-passphrase-file", pass, "--replace", "--json",
        ])
        let summary = try #require(replaced.jsonObject)
        #expect(summary["added"] as? [String] == ["acme", "crate"])
        #expect(summary["replaced"] as? [String] == ["bolt"])
        let bolt = try await target.reveal("bolt")
        let sourceBolt = try await source.reveal("bolt")
        #expect(bolt["client_secret"] as? String == Self.rtSecret)
        #expect(bolt["refresh_token"] as? String == sourceBolt["refresh_token"] as? String)
        #expect((bolt["generation"] as? Int ?? 0) > oldGeneration)
        await finish()
    }

    @Test("secret sources: none without a terminal → 78, both → 64, a readable key file → 78, a generated key works")
    func secretSources() async throws {
        try await seedSource()
        let none = try await source.vaultRun(["export", source.root + "/x.scvb", "--json"])
        expectFailure(none, 78, json: true)
        for option in ["--backup-key-file", "--backup-passphrase-file", "SENDCLOUD_VAULT_BACKUP_PASSPHRASE"] {
            #expect(none.stderr.contains(option), "\(none)")
        }
        #expect(!source.exists(source.root + "/x.scvb"))
        let key = try source.writeRandomKey("backup.key")
        let both = try await source.vaultRun([
            "export", source.root + "/x.scvb", "--backup-key-file", key, "--backup-passphrase-file",
            try passphraseFile(source),
        ])
        expectFailure(both, 64)
        let readable = try source.writeFile(
            "readable.key",
            try String(contentsOfFile: key, encoding: .utf8),
            mode: 0o644
        )
        expectFailure(
            try await source.vaultRun(["export", source.root + "/x.scvb", "--backup-key-file", readable]),
            78
        )
        #expect(!source.exists(source.root + "/x.scvb"))

        let generated = source.root + "/generated.key"
        let file = source.root + "/generated.scvb"
        let made = try await source.succeed(["export", file, "--generate-backup-key-file", generated, "--json"])
        let summary = try #require(made.jsonObject)
        #expect(summary["accounts"] as? Int == 3)
        #expect(summary["names"] as? [String] == ["acme", "bolt", "crate"])
        #expect(summary["secret"] as? String == "key-file")
        #expect(summary["format_version"] as? Int == 1)
        #expect(summary["key_file"] as? String == generated)
        #expect(try source.mode(of: generated) == 0o600)
        let copied = try target.writeFile("generated.key", try String(contentsOfFile: generated, encoding: .utf8))
        try await target.succeed(["import", file, "--backup-key-file", copied])
        #expect(try await target.succeed(["list", "--json"]).jsonArray?.count == 3)
        // The backup passphrase can come from standard input, as long as the vault key does not.
        let piped = source.root + "/piped.scvb"
        try await source.succeed(
            ["export", piped, "--backup-passphrase-file", "-"],
            stdin: Data((Self.passphrase + "\n").utf8)
        )
        try await target.succeed(
            ["import", piped, "--backup-passphrase-file", "-", "--replace"],
            stdin: Data(Self.passphrase.utf8)
        )
        await finish()
    }

    @Test("a directory others can write is refused (78); --help of export and import names the backup secret sources")
    func directoryAndHelp() async throws {
        try await seedSource()
        let shared = source.root + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: false)
        #expect(chmod(shared, 0o777) == 0)
        let result = try await source.vaultRun(
            ["export", shared + "/b.scvb"],
            env: ["SENDCLOUD_VAULT_BACKUP_PASSPHRASE": Self.passphrase]
        )
        expectFailure(result, 78)
        #expect(try FileManager.default.contentsOfDirectory(atPath: shared).isEmpty)
        for command in ["export", "import"] {
            let help = try await source.run([command, "--help"])
            #expect(help.status == 0)
            let text = help.stdout.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "  ", with: " ")
            for source in ["--backup-key-file", "--backup-passphrase-file", "SENDCLOUD_VAULT_BACKUP_PASSPHRASE"] {
                #expect(text.contains(source), "\(command) --help does not name \(source)")
            }
        }
        await finish()
    }

    @Test("export --force onto one of its own inputs (the vault, its key file, the backup key) is refused (64)")
    func exportOntoInputs() async throws {
        try await source.addAccount("acme", clientID: Self.ccClient, secret: Self.ccSecret)
        let backupKey = source.root + "/backup.key"
        try await source.succeed(["export", source.root + "/first.scvb", "--generate-backup-key-file", backupKey])
        for (target, extra) in [
            (source.vault, ["--backup-key-file", backupKey]), (source.keyFile, ["--backup-key-file", backupKey]),
            (backupKey, ["--backup-key-file", backupKey]),
            (source.root + "/new.key", ["--generate-backup-key-file", source.root + "/new.key"]),
        ] {
            let result = try await source.vaultRun(["export", target, "--force"] + extra)
            #expect(result.status == 64, "\(result)")
            #expect(result.stderr.contains("is one of this command's inputs"), "\(result)")
        }
        try await source.succeed(["list"])
        try await source.succeed(["export", source.root + "/second.scvb", "--backup-key-file", backupKey])
    }

}

/// `show NAME --reveal --json` of every account of `cli`, by name.
func allAccounts(
    _ cli: CLIHarness,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws -> [String: NSDictionary] {
    let list = try #require(try await cli.succeed(["list", "--json"]).jsonArray, sourceLocation: sourceLocation)
    var shown: [String: NSDictionary] = [:]
    for row in list {
        let name = try #require(row["name"] as? String, sourceLocation: sourceLocation)
        shown[name] = try await cli.reveal(name, sourceLocation: sourceLocation) as NSDictionary
    }
    return shown
}

extension PostgresCLITests {
    /// A backup taken from one store restores into the other.
    @Suite("export and import between SQLite and PostgreSQL")
    struct BackupAcrossStores {
        @Test("SQLite → PostgreSQL → SQLite: every account arrives intact each way, and its tokens work")
        func sqliteToPostgresAndBack() async throws {
            let clientID = "store-move-client"
            let clientSecret = "store-move-secret-a8d0"
            let server = try await FakeSendcloud.start(registering: [clientID: clientSecret])
            let sqlite = try CLIHarness()
            try await sqlite.initVault()
            try await sqlite.addAccount(
                "acme",
                clientID: clientID,
                secret: clientSecret,
                extra: ["--token-url", server.tokenURL]
            )
            try await sqlite.succeed(["token", "acme"])
            try await sqlite.addRefreshAccount("bolt", server: server, clientID: clientID, secret: clientSecret)
            let original = try await allAccounts(sqlite)
            let key = try sqlite.writeRandomKey("backup.key")
            let first = sqlite.root + "/from-sqlite.scvb"
            try await sqlite.succeed(["export", first, "--backup-key-file", key])

            let pg = try PostgresVault()
            try await pg.initVault()
            try await pg.succeed(["import", first, "--backup-key-file", key])
            #expect(try await allAccounts(pg.cli) == original)
            let token = try await pg.succeed(["token", "bolt"]).stdout.trimmingCharacters(in: .newlines)
            #expect(server.isAccessTokenValid(token))
            let inPostgres = try await allAccounts(pg.cli)
            #expect(inPostgres["bolt"]?["generation"] as? Int == 2, "the refresh was stored in PostgreSQL")

            let second = pg.cli.root + "/from-postgres.scvb"
            try await pg.succeed(["export", second, "--backup-key-file", key])
            let back = try CLIHarness()
            try await back.initVault()
            try await back.succeed(["import", second, "--backup-key-file", key])
            #expect(try await allAccounts(back) == inPostgres)
            #expect(try await back.succeed(["token", "bolt"]).stdout.trimmingCharacters(in: .newlines) == token)
            await pg.dropSchema()
            await server.stop()
        }
    }

}
