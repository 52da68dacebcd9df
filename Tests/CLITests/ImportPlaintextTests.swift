import Foundation
import SendcloudTesting
import TestSupport
import Testing

/// `import --plaintext-json FILE`: DESIGN §6's plaintext token list migrated into a vault, with the built binary and
/// a real token endpoint on 127.0.0.1.
// One test at a time: each starts many processes, and the whole suite shares two cores with timing-sensitive tests.
@Suite("import --plaintext-json", .serialized)
struct ImportPlaintextTests {
    static let clientID = "plaintext-client"
    static let clientSecret = "plaintext-client-secret-6b0e"

    let cli: CLIHarness
    let server: FakeSendcloud

    init() async throws {
        cli = try CLIHarness()
        server = try await FakeSendcloud.start(registering: [Self.clientID: Self.clientSecret])
    }

    /// Three valid entries: client-credentials, refresh-token with a valid access token, basic.
    func validEntries() -> [[String: Any]] {
        [
            [
                "name": "acme", "client_id": Self.clientID, "client_secret": Self.clientSecret,
                "token_url": server.tokenURL,
            ],
            [
                "name": "bolt", "mode": "refresh-token", "client_id": Self.clientID, "client_secret": Self.clientSecret,
                "refresh_token": server.issueRefreshToken(clientID: Self.clientID),
                "access_token": "at-bolt-plain-91c4",
                "expires_at": "2099-01-01T00:00:00Z", "scope": "api offline_access", "token_url": server.tokenURL,
            ],
            ["name": "crate", "mode": "basic", "client_id": "crate-public", "client_secret": "crate-secret-2f2f"],
        ]
    }

    func secrets(of entries: [[String: Any]]) -> [String] {
        entries.flatMap { entry in
            ["client_secret", "refresh_token", "access_token"].compactMap { entry[$0] as? String }
        }
    }

    func write(_ entries: [[String: Any]], _ name: String = "tokens.json") throws -> String {
        try cli.writeFile(name, try JSONSerialization.data(withJSONObject: entries))
    }

    @Test("three valid entries are sealed: modes, tokens and scope kept, tokens usable, nothing echoed, shred reminder")
    func importsEntries() async throws {
        try await cli.initVault()
        let entries = validEntries()
        let file = try write(entries)
        let result = try await cli.succeed(["import", "--plaintext-json", file])
        #expect(result.stdout.contains("Imported 3 account(s)"), "\(result)")
        #expect(result.stderr.contains("shred -u -- '\(file)'"), "\(result)")
        expectNoSecrets(result, secrets(of: entries))

        let bolt = try await cli.reveal("bolt")
        #expect(bolt["mode"] as? String == "refresh-token")
        #expect(bolt["scopes"] as? String == "api offline_access")
        #expect(bolt["refresh_token"] as? String == entries[1]["refresh_token"] as? String)
        // The imported access token is served from the vault, without asking the endpoint.
        let before = server.stats.tokenRequests
        let token = try await cli.succeed(["token", "bolt"])
        #expect(token.stdout == "at-bolt-plain-91c4\n")
        #expect(server.stats.tokenRequests == before)
        // The client-credentials account obtains a token from the endpoint with the imported secret.
        let acme = try await cli.succeed(["token", "acme"])
        #expect(server.isAccessTokenValid(acme.stdout.trimmingCharacters(in: .newlines)))
        #expect((try await cli.reveal("crate"))["mode"] as? String == "basic")
    }

    @Test("a fourth, invalid entry: 65 naming it by index and name, nothing imported, its secret not echoed")
    func invalidEntryImportsNothing() async throws {
        try await cli.initVault()
        var entries = validEntries()
        entries.append([
            "name": "dent", "mode": "client-credential", "client_id": "dent-public",
            "client_secret": "dent-secret-e4e4",
        ])
        let file = try write(entries)
        let result = try await cli.vaultRun(["import", "--plaintext-json", file])
        #expect(result.status == 65, "\(result)")
        #expect(result.stderr.contains("entry 4 ('dent'): mode must be"), "\(result)")
        #expect(result.stderr.contains("1 of 4 entries have problems; nothing was imported"), "\(result)")
        expectNoSecrets(result, secrets(of: entries))
        let list = try await cli.succeed(["list", "--json"])
        #expect(list.jsonArray?.isEmpty == true, "\(list)")

        let json = try await cli.vaultRun(["import", "--plaintext-json", file, "--json"])
        #expect(json.status == 65)
        #expect(json.jsonError?["kind"] as? String == "invalid-entry", "\(json)")
    }

    @Test(
        "entries refused whole: a bad name, a missing secret, an insecure token URL, an unknown field, a bad expiry",
        arguments: [
            (
                ["name": "-bad", "client_id": "c", "client_secret": "s-3a3a"],
                "entry 1: name is not a valid account name"
            ),
            (["name": "ok1", "client_id": "c"], "entry 1 ('ok1'): client_secret is missing or empty"),
            (
                ["name": "ok2", "client_id": "c", "client_secret": "s-4b4b", "token_url": "http://example.com/t"],
                "entry 1 ('ok2'): token_url is refused"
            ),
            (
                ["name": "ok3", "client_id": "c", "client_secret": "s-5c5c", "secret": "extra-value-0f0f"],
                "unknown field"
            ),
            (
                [
                    "name": "ok4", "client_id": "c", "client_secret": "s-6d6d", "expires_at": "soon",
                    "access_token": "a",
                ],
                "expires_at is neither ISO 8601"
            ),
        ]
    )
    func refusedEntries(_ entry: [String: String], _ message: String) async throws {
        try await cli.initVault()
        let file = try write([entry])
        let result = try await cli.vaultRun(["import", "--plaintext-json", file])
        #expect(result.status == 65, "\(result)")
        #expect(result.stderr.contains(message), "\(result)")
        expectNoSecrets(result, [entry["client_secret"], entry["secret"]].compactMap { $0 })
    }

    @Test("a name twice in the file is refused, naming both entries")
    func duplicateName() async throws {
        try await cli.initVault()
        let entry = ["name": "twin", "client_id": "c", "client_secret": "s-7e7e"]
        let result = try await cli.vaultRun(["import", "--plaintext-json", try write([entry, entry])])
        #expect(result.status == 65, "\(result)")
        #expect(result.stderr.contains("entry 2 ('twin'): the name appears in entry 1 too"), "\(result)")
    }

    @Test("an existing name: 73 and nothing imported; with --replace the account is replaced")
    func existingName() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: "old-acme-secret-0a0a")
        let entries = validEntries()
        let file = try write(entries)
        let refused = try await cli.vaultRun(["import", "--plaintext-json", file])
        #expect(refused.status == 73, "\(refused)")
        #expect(refused.stderr.contains("'acme'"), "\(refused)")
        #expect(try await cli.succeed(["list", "--json"]).jsonArray?.count == 1)

        let replaced = try await cli.succeed(["import", "--plaintext-json", file, "--replace"])
        #expect(replaced.stdout.contains("2 added, 1 replaced"), "\(replaced)")
        #expect((try await cli.reveal("acme"))["client_secret"] as? String == Self.clientSecret)
    }

    @Test("a file that is not a JSON array of objects: 65 without quoting it; a missing file: 66")
    func malformedFile() async throws {
        try await cli.initVault()
        let notJSON = try cli.writeFile("broken.json", "[{\"name\": \"x\", \"client_secret\": \"leak-8f8f\"")
        let broken = try await cli.vaultRun(["import", "--plaintext-json", notJSON])
        #expect(broken.status == 65, "\(broken)")
        #expect(broken.stderr.contains("is not a JSON array"), "\(broken)")
        expectNoSecrets(broken, ["leak-8f8f"])
        let scalars = try cli.writeFile("scalars.json", "[\"leak-9a9a\"]")
        let notObjects = try await cli.vaultRun(["import", "--plaintext-json", scalars])
        #expect(notObjects.status == 65, "\(notObjects)")
        #expect(notObjects.stderr.contains("entry 1 is not a JSON object"), "\(notObjects)")
        expectNoSecrets(notObjects, ["leak-9a9a"])
        let missing = try await cli.vaultRun(["import", "--plaintext-json", cli.root + "/absent.json"])
        #expect(missing.status == 66, "\(missing)")
        let empty = try await cli.vaultRun(["import", "--plaintext-json", try cli.writeFile("empty.json", "[]")])
        #expect(empty.status == 65, "\(empty)")
    }

    @Test("a FIFO given as the file is refused at once, not read (no hang)")
    func fifoRefused() async throws {
        try await cli.initVault()
        let fifo = cli.root + "/tokens.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let result = try await cli.vaultRun(["import", "--plaintext-json", fifo])
        #expect(result.status == 66, "\(result)")
        #expect(result.stderr.contains("is not a regular file"), "\(result)")
        let backup = try await cli.vaultRun([
            "import", fifo, "--backup-passphrase-file", try cli.writeFile("p", "pass-7a7a"),
        ])
        #expect(backup.status != 0 && backup.stderr.contains("not a regular file"), "\(backup)")
    }

}
