import CredentialVault
import CredentialVaultSQLite
import Foundation
import Logging
import Testing

/// The fields every `show --json` / `list --json` object carries (DESIGN §6).
let designFields = [
    "name", "mode", "client_id", "scopes", "token_url", "status", "last_error", "access_token_expires_at",
    "refreshed_at", "generation", "next_attempt_at", "consecutive_failures",
]

extension CLIHarness {
    /// Sets `name`'s backoff (next attempt, consecutive failures) through the vault API, as the token provider does
    /// after failed refreshes.
    func setBackoff(_ name: AccountName, nextAttemptAt: Date?, consecutiveFailures: Int) async throws {
        let store = try SQLiteCredentialStore(path: vault)
        let vault = try await CredentialVault.open(
            store,
            with: try VaultUnlockSource.keyFile(path: keyFile).secret(),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
        let (account, secrets) = try await vault.openAccount(named: name)
        var failing = account
        failing.nextAttemptAt = nextAttemptAt
        failing.consecutiveFailures = consecutiveFailures
        try await vault.updateAccount(failing, secrets: secrets, expectedGeneration: account.generation)
        try store.close()
    }
}

@Suite("show")
struct ShowTests {
    let cli: CLIHarness
    let secret = "cs-show-0b9e51c2"
    let refreshToken = "rt-show-77aa31fe"

    init() throws { cli = try CLIHarness() }

    /// A vault with account `bolt` (refresh-token mode, client secret and refresh token).
    private func setUp() async throws {
        try await cli.initVault()
        let tokenFile = try cli.writeFile("rt.txt", refreshToken)
        try await cli.succeed(
            ["add", "bolt", "--client-id", "pub-bolt", "--refresh-token-file", tokenFile, "--scope", "api"],
            env: ["SENDCLOUD_CLIENT_SECRET": secret]
        )
    }

    @Test("secrets are masked by default")
    func masked() async throws {
        try await setUp()
        let text = try await cli.succeed(["show", "bolt"])
        expectNoSecrets(text, [secret, refreshToken])
        #expect(text.stdout.contains("bolt"))
        #expect(text.stdout.contains("pub-bolt"))
        #expect(text.stdout.contains("hidden"))

        let json = try await cli.succeed(["show", "bolt", "--json"])
        expectNoSecrets(json, [secret, refreshToken])
        let object = try #require(json.jsonObject, "not JSON:\n\(json)")
        #expect(object["client_secret"] == nil)
        #expect(object["refresh_token"] == nil)
        #expect(object["access_token"] == nil)
    }

    @Test("--reveal shows the secrets, in text and in JSON")
    func reveal() async throws {
        try await setUp()
        let object = try await cli.reveal("bolt")
        #expect(object["client_secret"] as? String == secret)
        #expect(object["refresh_token"] as? String == refreshToken)
        #expect(object.keys.contains("access_token"))
        #expect(object["access_token"] is NSNull)

        let text = try await cli.succeed(["show", "bolt", "--reveal"])
        #expect(text.stdout.contains(secret))
        #expect(text.stdout.contains(refreshToken))
    }

    @Test("the JSON fields of DESIGN §6")
    func jsonFields() async throws {
        try await setUp()
        let object = try #require(try await cli.succeed(["show", "bolt", "--json"]).jsonObject)
        for field in designFields {
            #expect(object.keys.contains(field), "show --json lacks \(field): \(object)")
        }
        #expect(object["name"] as? String == "bolt")
        #expect(object["mode"] as? String == "refresh-token")
        #expect(object["client_id"] as? String == "pub-bolt")
        #expect(object["scopes"] as? String == "api")
        #expect(object["token_url"] as? String == "https://account.sendcloud.com/oauth2/token")
        #expect(object["status"] as? String == "ok")
        #expect(object["last_error"] is NSNull)
        #expect(object["access_token_expires_at"] is NSNull)
        #expect(object["refreshed_at"] is NSNull)
        #expect(object["generation"] as? Int == 1)
        #expect(object["next_attempt_at"] is NSNull)
        #expect(object["consecutive_failures"] as? Int == 0)
    }

    @Test("next attempt and consecutive failures: shown once set (text and JSON), absent from the text before")
    func backoff() async throws {
        try await setUp()
        let quiet = try await cli.succeed(["show", "bolt"])
        #expect(!quiet.stdout.contains("next_attempt_at"), "\(quiet)")
        #expect(!quiet.stdout.contains("consecutive_failures"), "\(quiet)")
        let next = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 3 * 3600).rounded())
        try await cli.setBackoff("bolt", nextAttemptAt: next, consecutiveFailures: 4)
        let text = try await cli.succeed(["show", "bolt"])
        let lines = text.stdout.split(separator: "\n")
        let nextLine = try #require(lines.first { $0.hasPrefix("next_attempt_at:") }, "\(text)")
        #expect(nextLine.contains(next.formatted(.iso8601)) && nextLine.contains("(in "), "\(text)")
        let failuresLine = try #require(lines.first { $0.hasPrefix("consecutive_failures:") }, "\(text)")
        #expect(failuresLine.hasSuffix(" 4"), "\(text)")
        expectNoSecrets(text, [secret, refreshToken])
        let object = try #require(try await cli.succeed(["show", "bolt", "--json"]).jsonObject)
        #expect(object["next_attempt_at"] as? String == next.formatted(.iso8601))
        #expect(object["consecutive_failures"] as? Int == 4)
        #expect(object["generation"] as? Int == 2)
    }

    @Test("an unknown account: 66")
    func unknown() async throws {
        try await setUp()
        expectFailure(try await cli.vaultRun(["show", "nobody"]), 66)
        expectFailure(try await cli.vaultRun(["show", "nobody", "--json"]), 66, json: true)
    }

    @Test("global options after the subcommand: show NAME --vault V --json --key-file K")
    func globalOptionsAfterSubcommand() async throws {
        try await setUp()
        let result = try await cli.run(["show", "bolt", "--vault", cli.vault, "--json", "--key-file", cli.keyFile])
        #expect(result.status == 0, "\(result)")
        #expect(result.jsonObject?["name"] as? String == "bolt")
    }

    @Test("SENDCLOUD_VAULT names the vault when --vault is absent")
    func vaultEnvironment() async throws {
        try await setUp()
        let result = try await cli.run(
            ["show", "bolt", "--json"],
            env: ["SENDCLOUD_VAULT": cli.vault, "SENDCLOUD_VAULT_KEY_FILE": cli.keyFile]
        )
        #expect(result.status == 0, "\(result)")
        #expect(result.jsonObject?["name"] as? String == "bolt")
    }
}

@Suite("list")
struct ListTests {
    let cli: CLIHarness
    let secrets = ["cs-list-acme-4411", "cs-list-bolt-9932", "rt-list-bolt-1234"]

    init() throws { cli = try CLIHarness() }

    private func setUp() async throws { try await cli.seedTwoAccounts(secrets) }

    @Test("text: a header and one row per account, no secrets")
    func text() async throws {
        try await setUp()
        let result = try await cli.succeed(["list"])
        expectNoSecrets(result, secrets)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3, "\(result)")
        #expect(lines.first?.contains("NAME") == true)
        #expect(lines.contains { $0.hasPrefix("acme ") && $0.contains("client-credentials") })
        #expect(lines.contains { $0.hasPrefix("bolt ") && $0.contains("refresh-token") })
    }

    @Test("--json: an array of account objects, no secrets")
    func json() async throws {
        try await setUp()
        let result = try await cli.succeed(["list", "--json"])
        expectNoSecrets(result, secrets)
        let array = try #require(result.jsonArray, "not a JSON array:\n\(result)")
        #expect(array.map { $0["name"] as? String } == ["acme", "bolt"])
        for object in array {
            for field in designFields {
                #expect(object.keys.contains(field), "list --json lacks \(field): \(object)")
            }
            #expect(object["client_secret"] == nil)
        }
        #expect(array.map { $0["mode"] as? String } == ["client-credentials", "refresh-token"])
    }

    @Test("next attempt and consecutive failures: columns once an account has them, values in JSON")
    func backoff() async throws {
        try await setUp()
        let before = try await cli.succeed(["list"])
        #expect(!before.stdout.contains("NEXT ATTEMPT") && !before.stdout.contains("FAILURES"), "\(before)")
        // 2.5 hours ahead: "in 2h" however long the runs take.
        try await cli.setBackoff("bolt", nextAttemptAt: Date().addingTimeInterval(2.5 * 3600), consecutiveFailures: 2)
        let text = try await cli.succeed(["list"])
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(text)")
        let header = try #require(lines.first)
        #expect(header.hasSuffix("NEXT ATTEMPT  FAILURES"), "\(text)")
        let column = try #require(header.range(of: "NEXT ATTEMPT")).lowerBound.utf16Offset(in: header)
        func backoffCells(_ name: String) throws -> [String] {
            let line = try #require(lines.first { $0.hasPrefix(name + " ") }, "\(text)")
            return line.dropFirst(column).split(separator: " ").map(String.init)
        }
        #expect(try backoffCells("bolt") == ["in", "2h", "2"], "\(text)")
        #expect(try backoffCells("acme") == ["-", "0"], "\(text)")
        expectNoSecrets(text, secrets)
        let array = try #require(try await cli.succeed(["list", "--json"]).jsonArray)
        #expect(array.map { $0["consecutive_failures"] as? Int } == [0, 2])
        #expect(array.first?["next_attempt_at"] is NSNull)
        #expect((array.last?["next_attempt_at"] as? String)?.isEmpty == false)
        // Cleared (a successful refresh): the columns go again.
        try await cli.setBackoff("bolt", nextAttemptAt: nil, consecutiveFailures: 0)
        #expect(!(try await cli.succeed(["list"]).stdout.contains("NEXT ATTEMPT")))
    }

    @Test("an empty vault")
    func empty() async throws {
        try await cli.initVault()
        let text = try await cli.succeed(["list"])
        #expect(text.stdout.contains("No accounts"))
        let json = try await cli.succeed(["list", "--json"])
        let array = try #require(json.jsonArray, "not a JSON array:\n\(json)")
        #expect(array.isEmpty)
    }
}

@Suite("remove")
struct RemoveTests {
    let cli: CLIHarness

    init() throws { cli = try CLIHarness() }

    @Test("remove, then show: 66; other accounts stay")
    func remove() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: "cs-remove-acme")
        try await cli.addAccount("bolt", secret: "cs-remove-bolt")
        let removed = try await cli.succeed(["remove", "acme", "--json", "--yes"])
        #expect(removed.jsonObject?["removed"] as? String == "acme")
        expectFailure(try await cli.vaultRun(["show", "acme"]), 66)
        #expect(try await cli.succeed(["list", "--json"]).jsonArray?.map { $0["name"] as? String } == ["bolt"])
        #expect(try await cli.reveal("bolt")["client_secret"] as? String == "cs-remove-bolt")
        // The name is free again.
        try await cli.addAccount("acme", secret: "cs-remove-acme-2")
    }

    @Test("remove without a terminal and without --yes: 64 naming --yes, nothing deleted")
    func removeNeedsYesWithoutTerminal() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: "cs-remove-acme")
        let before = try cli.vaultFiles()
        for extra in [[], ["--json"]] {
            let refused = try await cli.vaultRun(["remove", "acme"] + extra)
            expectFailure(refused, 64, json: !extra.isEmpty)
            #expect(refused.stderr.contains("--yes"), "\(refused)")
        }
        #expect(try cli.vaultFiles() == before, "a refused remove changed the vault")
        #expect(try await cli.succeed(["list", "--json"]).jsonArray?.count == 1)
    }

    @Test("remove an unknown account: 66")
    func removeUnknown() async throws {
        try await cli.initVault()
        expectFailure(try await cli.vaultRun(["remove", "nobody"]), 66)
        expectFailure(try await cli.vaultRun(["remove", "nobody", "--json"]), 66, json: true)
    }
}
