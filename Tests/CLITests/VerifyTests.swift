import Foundation
import Testing

@Suite("verify")
struct VerifyTests {
    let cli: CLIHarness
    let secrets = ["cs-verify-acme-81f2", "cs-verify-bolt-03cd", "rt-verify-bolt-6e6e"]

    init() throws { cli = try CLIHarness() }

    private func setUp() async throws { try await cli.seedTwoAccounts(secrets) }

    @Test("a sound vault: 0")
    func clean() async throws {
        try await setUp()
        let text = try await cli.succeed(["verify"])
        #expect(text.stdout.contains("OK"))
        #expect(text.stdout.contains("2 account"))
        expectNoSecrets(text, secrets)

        let json = try await cli.succeed(["verify", "--json"])
        let object = try #require(json.jsonObject, "not JSON:\n\(json)")
        #expect(object["ok"] as? Bool == true)
        #expect(object["accounts"] as? Int == 2)
        #expect((object["problems"] as? [Any])?.isEmpty == true)
        expectNoSecrets(json, secrets)
    }

    @Test("an empty vault verifies")
    func empty() async throws {
        try await cli.initVault()
        let result = try await cli.succeed(["verify", "--json"])
        #expect(result.jsonObject?["ok"] as? Bool == true)
        #expect(result.jsonObject?["accounts"] as? Int == 0)
    }

    /// Ways to damage acme's sealed client secret with plain SQL.
    static let tampering = [
        // Flip the last byte (inside the ciphertext/tag).
        """
        UPDATE account SET client_secret = substr(client_secret, 1, length(client_secret) - 1)
          || CASE WHEN substr(client_secret, -1) = X'00' THEN X'01' ELSE X'00' END WHERE name = 'acme';
        """,
        // Replace it with random bytes of the same length.
        "UPDATE account SET client_secret = randomblob(length(client_secret)) WHERE name = 'acme';",
        // Move bolt's genuine sealed secret over to acme (a value is bound to its account).
        """
        UPDATE account SET client_secret = (SELECT client_secret FROM account WHERE name = 'bolt')
          WHERE name = 'acme';
        """,
        // A column of the wrong type: the row cannot even be decoded.
        "UPDATE account SET generation = 'x' WHERE name = 'acme';",
    ]

    @Test(
        "a tampered sealed column: 65, naming the account",
        .enabled(if: sqlite3Path != nil, "needs the sqlite3 command-line tool to tamper with the vault"),
        arguments: tampering
    )
    func tampered(_ sql: String) async throws {
        try await setUp()
        let sqlite3 = try #require(sqlite3Path)
        let tamper = try await cli.launch(sqlite3, [cli.vault, sql])
        try #require(tamper.status == 0, "sqlite3 failed:\n\(tamper)")

        let text = try await cli.vaultRun(["verify"])
        expectFailure(text, 65)
        #expect(text.stdout.contains("acme"), "verify does not name the account:\n\(text)")
        #expect(!text.stdout.contains("bolt"), "verify blames the sound account:\n\(text)")
        expectNoSecrets(text, secrets)

        let json = try await cli.vaultRun(["verify", "--json"])
        #expect(json.status == 65, "\(json)")
        let object = try #require(json.jsonObject, "verify --json printed no report:\n\(json)")
        #expect(object["ok"] as? Bool == false)
        let problems = try #require(object["problems"] as? [String], "no problems array: \(object)")
        #expect(problems.count == 1)
        #expect(problems.first?.contains("acme") == true)
        #expect(json.jsonError?["code"] as? Int == 65, "\(json)")
        expectNoSecrets(json, secrets)

        // The damaged account does not open; the other one does.
        expectFailure(try await cli.vaultRun(["show", "acme", "--reveal"]), 65)
        #expect(try await cli.reveal("bolt")["client_secret"] as? String == secrets[1])
    }
}

@Suite("verify --upgrade on a format-1 vault")
struct UpgradeCommandTests {
    let cli: CLIHarness

    init() throws {
        cli = try CLIHarness()
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CredentialVaultSQLiteTests/Fixtures/format-1")
        let folder = (cli.vault as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: folder,
            withIntermediateDirectories: false,
            attributes: [.posixPermissions: 0o700]
        )
        try FileManager.default.copyItem(
            atPath: fixtures.appendingPathComponent("vault.sqlite").path,
            toPath: cli.vault
        )
        try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent("vault.key").path, toPath: cli.keyFile)
        chmod(cli.vault, 0o600)
        chmod(cli.keyFile, 0o600)
    }

    @Test("records are refused (65, naming verify --upgrade) until the upgrade, which prints what it authenticates")
    func upgrade() async throws {
        for command in [["show", "bolt", "--reveal"], ["token", "bolt"], ["list"], ["verify"]] {
            let result = try await cli.vaultRun(command)
            expectFailure(result, 65)
            #expect(result.mentions("verify --upgrade"), "\(command):\n\(result)")
        }
        let upgraded = try await cli.succeed(["verify", "--upgrade"])
        for name in ["acme", "bolt", "shop"] {
            #expect(
                upgraded.stdout.contains(
                    "upgraded \(name): mode "
                )
                    && upgraded.stdout.contains(
                        "client id \(name)-public, token URL https://account.sendcloud.com/oauth2/token"
                    ),
                "\(upgraded)"
            )
        }
        #expect(upgraded.stdout.contains("OK: 3 account(s)"))
        #expect(try await cli.reveal("bolt")["refresh_token"] as? String == "bolt-rt0")
        try await cli.tamper("UPDATE account SET token_url = 'http://127.0.0.1:1/x' WHERE name = 'bolt'")
        expectFailure(try await cli.vaultRun(["token", "bolt"]), 65)
    }
}
