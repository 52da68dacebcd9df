import Foundation
import Testing

@Suite("passwd")
struct PasswdTests {
    let cli: CLIHarness
    let secret = "cs-passwd-1a2b3c"

    init() throws { cli = try CLIHarness() }

    @Test("--new-passphrase-file: the old passphrase then fails (77), the new one opens every account")
    func change() async throws {
        let oldFile = try cli.writeFile("old.txt", "old passphrase\n")
        let newFile = try cli.writeFile("new.txt", "new passphrase\n")
        let created = try await cli.run(["init", "--vault", cli.vault, "--passphrase-file", oldFile])
        try #require(created.status == 0, "\(created)")
        let old = ["SENDCLOUD_VAULT_PASSPHRASE_FILE": oldFile]
        let added = try await cli.run(
            ["add", "acme", "--client-id", "pub", "--vault", cli.vault],
            env: old.merging(["SENDCLOUD_CLIENT_SECRET": secret]) { $1 }
        )
        try #require(added.status == 0, "\(added)")

        let changed = try await cli.run(
            ["passwd", "--vault", cli.vault, "--new-passphrase-file", newFile, "--json"],
            env: old
        )
        #expect(changed.status == 0, "\(changed)")
        #expect(changed.jsonObject?["changed"] as? Bool == true)
        expectNoSecrets(changed, ["old passphrase", "new passphrase", secret])

        expectFailure(try await cli.run(["list", "--vault", cli.vault], env: old), 77)
        let shown = try await cli.run(
            ["show", "acme", "--reveal", "--json", "--vault", cli.vault, "--passphrase-file", newFile])
        #expect(shown.status == 0, "\(shown)")
        #expect(shown.jsonObject?["client_secret"] as? String == secret)
    }

    @Test("unlocked with a key file, passwd changes the only passphrase slot")
    func changeUnlockedByKey() async throws {
        let created = try await cli.run(
            ["init", "--vault", cli.vault, "--generate-key-file", cli.keyFile],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": "first passphrase"]
        )
        try #require(created.status == 0, "\(created)")
        try await cli.succeed(["passwd"], env: ["SENDCLOUD_VAULT_NEW_PASSPHRASE": "second passphrase"])
        expectFailure(
            try await cli.run(["list", "--vault", cli.vault], env: ["SENDCLOUD_VAULT_PASSPHRASE": "first passphrase"]),
            77
        )
        let second = try await cli.run(
            ["list", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": "second passphrase"]
        )
        #expect(second.status == 0, "\(second)")
        try await cli.succeed(["list"])  // the key file still opens it
    }

    @Test("no new passphrase and no terminal: 78; a vault without a passphrase slot: 64")
    func failures() async throws {
        try await cli.initVault()
        expectFailure(try await cli.vaultRun(["passwd"]), 78)
        let noSlot = try await cli.vaultRun(["passwd", "--json"], env: ["SENDCLOUD_VAULT_NEW_PASSPHRASE": "x"])
        expectFailure(noSlot, 64, json: true)
    }
}

@Suite("key")
struct KeyTests {
    let cli: CLIHarness
    let secret = "cs-key-d00dfeed"

    init() throws { cli = try CLIHarness() }

    private func slots(env: [String: String] = [:]) async throws -> [[String: Any]] {
        let result = try await cli.succeed(["key", "list", "--json"], env: env)
        return try #require(result.jsonArray, "not a JSON array:\n\(result)")
    }

    @Test("key list: text and JSON")
    func list() async throws {
        try await cli.initVault()
        let text = try await cli.succeed(["key", "list"])
        #expect(text.stdout.contains("key-file"))
        #expect(text.stdout.contains("*"), "the slot used to unlock is not marked:\n\(text)")
        let slots = try await slots()
        #expect(slots.count == 1)
        #expect(slots.first?["kind"] as? String == "key-file")
        #expect(slots.first?["unlocked_with"] as? Bool == true)
        #expect(slots.first?["id"] is Int)
    }

    @Test("key add --generate-key-file: a new 0600 key that unlocks")
    func addKeyFile() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: secret)
        let second = cli.root + "/second.key"
        let added = try await cli.succeed(["key", "add", "--generate-key-file", second, "--json"])
        #expect(added.jsonObject?["kind"] as? String == "key-file")
        #expect(try cli.mode(of: second) == 0o600)
        let keyText = try String(contentsOfFile: second, encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines
        )
        expectNoSecrets(added, [keyText])

        #expect(
            try await cli.reveal("acme", env: ["SENDCLOUD_VAULT_KEY_FILE": second])["client_secret"] as? String
                == secret
        )
        let slots = try await slots(env: ["SENDCLOUD_VAULT_KEY_FILE": second])
        #expect(slots.count == 2)
        #expect(
            slots.filter { $0["unlocked_with"] as? Bool == true }.first?["id"] as? Int == added.jsonObject?["id"]
                as? Int
        )
    }

    @Test("key add --generate-key-file never overwrites a file: 73")
    func addKeyFileExists() async throws {
        try await cli.initVault()
        let existing = try cli.writeFile("existing.key", "keep me\n")
        expectFailure(try await cli.vaultRun(["key", "add", "--generate-key-file", existing]), 73)
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me\n")
        #expect(try await slots().count == 1)
    }

    @Test("key add --passphrase: the new passphrase unlocks")
    func addPassphrase() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: secret)
        let file = try cli.writeFile("pass.txt", "added passphrase")
        let added = try await cli.succeed(["key", "add", "--passphrase", "--new-passphrase-file", file])
        expectNoSecrets(added, ["added passphrase"])
        let shown = try await cli.run(
            ["show", "acme", "--reveal", "--json", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": "added passphrase"]
        )
        #expect(shown.status == 0, "\(shown)")
        #expect(shown.jsonObject?["client_secret"] as? String == secret)
        #expect(try await slots().map { $0["kind"] as? String } == ["key-file", "passphrase"])
    }

    @Test("key add needs exactly one of --passphrase and --generate-key-file: 64")
    func addUsage() async throws {
        try await cli.initVault()
        expectFailure(try await cli.vaultRun(["key", "add"]), 64)
        expectFailure(
            try await cli.vaultRun(["key", "add", "--passphrase", "--generate-key-file", cli.root + "/k2", "--json"]),
            64,
            json: true
        )
        #expect(!cli.exists(cli.root + "/k2"))
    }

    @Test("key remove: the removed key no longer unlocks; the last slot cannot be removed (64)")
    func remove() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: secret)
        let second = cli.root + "/second.key"
        let added = try await cli.succeed(["key", "add", "--generate-key-file", second, "--json"])
        let secondID = try #require(added.jsonObject?["id"] as? Int)
        let firstID = try #require(try await slots().first { $0["id"] as? Int != secondID }?["id"] as? Int)

        let removed = try await cli.succeed(["key", "remove", String(firstID), "--json"])
        #expect(removed.jsonObject?["removed"] as? Int == firstID)
        expectFailure(try await cli.vaultRun(["list"]), 77)  // the original key file
        let other = ["SENDCLOUD_VAULT_KEY_FILE": second]
        #expect(try await cli.reveal("acme", env: other)["client_secret"] as? String == secret)

        let last = try await cli.vaultRun(["key", "remove", String(secondID)], env: other)
        expectFailure(last, 64)
        expectFailure(
            try await cli.vaultRun(["key", "remove", String(secondID), "--json"], env: other),
            64,
            json: true
        )
        expectFailure(try await cli.vaultRun(["key", "remove", "999"], env: other), 66)
        #expect(try await slots(env: other).count == 1)
        try await cli.succeed(["verify"], env: other)
    }
}

@Suite("rotate-key")
struct RotateKeyTests {
    let cli: CLIHarness
    let secrets = ["cs-rotate-acme-1111", "cs-rotate-bolt-2222", "rt-rotate-bolt-3333"]

    init() throws { cli = try CLIHarness() }

    private func setUp() async throws { try await cli.seedTwoAccounts(secrets) }

    private func expectSecretsIntact(
        env: [String: String] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    )
        async throws
    {
        let acme = try await cli.reveal("acme", env: env, sourceLocation: sourceLocation)
        let bolt = try await cli.reveal("bolt", env: env, sourceLocation: sourceLocation)
        #expect(acme["client_secret"] as? String == secrets[0], sourceLocation: sourceLocation)
        #expect(bolt["client_secret"] as? String == secrets[1], sourceLocation: sourceLocation)
        #expect(bolt["refresh_token"] as? String == secrets[2], sourceLocation: sourceLocation)
    }

    @Test("with one slot: 0; every account reveals the same secrets; verify is clean")
    func singleSlot() async throws {
        try await setUp()
        let before = try #require(try await cli.reveal("acme")["generation"] as? Int)
        let rotated = try await cli.succeed(["rotate-key", "--json"])
        #expect(rotated.jsonObject?["rotated"] as? Bool == true)
        #expect(rotated.jsonObject?["accounts"] as? Int == 2)
        expectNoSecrets(rotated, secrets)
        try await expectSecretsIntact()
        #expect(try await cli.reveal("acme")["generation"] as? Int == before + 1)
        try await cli.succeed(["verify"])

        let text = try await cli.succeed(["rotate-key"])
        #expect(text.stdout.contains("2 account"))
        try await expectSecretsIntact()
    }

    @Test("with two slots: 64 without --drop-other-slots; with it 0, and the dropped key no longer unlocks")
    func twoSlots() async throws {
        try await setUp()
        let second = cli.root + "/second.key"
        try await cli.succeed(["key", "add", "--generate-key-file", second])
        let before = try cli.vaultFiles()

        let refused = try await cli.vaultRun(["rotate-key"])
        expectFailure(refused, 64)
        #expect(refused.stderr.contains("rerun with --drop-other-slots"), "\(refused)")
        expectFailure(try await cli.vaultRun(["rotate-key", "--json"]), 64, json: true)
        #expect(try cli.vaultFiles() == before, "a refused rotation changed the vault")
        try await expectSecretsIntact(env: ["SENDCLOUD_VAULT_KEY_FILE": second])

        let rotated = try await cli.succeed(["rotate-key", "--drop-other-slots"])
        #expect(rotated.stdout.contains("Removed key slot 2 (key-file)"), "\(rotated)")
        try await expectSecretsIntact()
        expectFailure(try await cli.vaultRun(["list"], env: ["SENDCLOUD_VAULT_KEY_FILE": second]), 77)
        let slots = try #require(try await cli.succeed(["key", "list", "--json"]).jsonArray)
        #expect(slots.count == 1)
        try await cli.succeed(["verify"])

        // Adding a slot back works with the new key.
        let third = cli.root + "/third.key"
        try await cli.succeed(["key", "add", "--generate-key-file", third])
        try await expectSecretsIntact(env: ["SENDCLOUD_VAULT_KEY_FILE": third])
    }

    @Test("an empty vault rotates")
    func emptyVault() async throws {
        try await cli.initVault()
        let rotated = try await cli.succeed(["rotate-key", "--json"])
        #expect(rotated.jsonObject?["accounts"] as? Int == 0)
        try await cli.succeed(["list"])
    }
}
