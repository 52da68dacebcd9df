import Foundation
import Testing

@Suite("init")
struct InitTests {
    let cli: CLIHarness

    init() throws { cli = try CLIHarness() }

    @Test("init --vault with a relative path whose folder does not exist yet (v/vault.sqlite) creates it 0700")
    func relativeNewFolder() async throws {
        let created = try await cli.run(["init", "--vault", "v/vault.sqlite", "--generate-key-file", "v.key"])
        #expect(created.status == 0, "\(created)")
        #expect(try cli.mode(of: cli.root + "/v") == 0o700)
        #expect(try cli.mode(of: cli.root + "/v/vault.sqlite") == 0o600)
        let listed = try await cli.run(["list", "--vault", "v/vault.sqlite", "--key-file", "v.key"])
        #expect(listed.status == 0, "\(listed)")
    }

    @Test("--generate-key-file writes a 0600 key; the vault is 0600 in a 0700 directory that init created")
    func generateKeyFile() async throws {
        let directory = cli.root + "/deep/er"
        let vault = directory + "/vault.sqlite"
        let key = cli.root + "/generated.key"
        #expect(!cli.exists(cli.root + "/deep"))

        let result = try await cli.run(["init", "--vault", vault, "--generate-key-file", key])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("key-file"))
        #expect(try cli.mode(of: key) == 0o600)
        #expect(try cli.mode(of: vault) == 0o600)
        #expect(try cli.mode(of: directory) == 0o700)
        #expect(try cli.mode(of: cli.root + "/deep") == 0o700)
        let keyText = try String(contentsOfFile: key, encoding: .utf8)
        #expect(Data(base64Encoded: keyText.trimmingCharacters(in: .whitespacesAndNewlines))?.count == 32)
        expectNoSecrets(result, [keyText.trimmingCharacters(in: .whitespacesAndNewlines)])

        let list = try await cli.run(["list", "--vault", vault, "--key-file", key])
        #expect(list.status == 0, "the generated key does not unlock:\n\(list)")
    }

    @Test("--passphrase-file creates a passphrase slot that unlocks")
    func passphraseFile() async throws {
        let passphrase = "correct horse battery staple"
        let file = try cli.writeFile("pass.txt", passphrase + "\n")
        let result = try await cli.run(["init", "--vault", cli.vault, "--passphrase-file", file])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("passphrase"))
        #expect(try cli.mode(of: cli.vault) == 0o600)
        expectNoSecrets(result, [passphrase])

        let slots = try await cli.run(["key", "list", "--json", "--vault", cli.vault, "--passphrase-file", file])
        #expect(slots.status == 0, "\(slots)")
        #expect(slots.jsonArray?.map { $0["kind"] as? String } == ["passphrase"])
    }

    @Test("SENDCLOUD_VAULT_PASSPHRASE creates a passphrase slot that unlocks")
    func passphraseEnvironment() async throws {
        let env = ["SENDCLOUD_VAULT_PASSPHRASE": "env passphrase 42"]
        let result = try await cli.run(["init", "--vault", cli.vault], env: env)
        #expect(result.status == 0, "\(result)")
        expectNoSecrets(result, ["env passphrase 42"])
        #expect(try cli.mode(of: cli.vault) == 0o600)
        let slots = try await cli.run(["key", "list", "--json", "--vault", cli.vault], env: env)
        #expect(slots.status == 0, "\(slots)")
        #expect(slots.jsonArray?.map { $0["kind"] as? String } == ["passphrase"])
    }

    @Test("without any source and without a terminal: 78, naming the options, and no vault")
    func noSourceWithoutTerminal() async throws {
        let result = try await cli.run(["init", "--vault", cli.vault])
        expectFailure(result, 78)
        for option in ["--generate-key-file", "--key-file", "--passphrase-file", "SENDCLOUD_VAULT_PASSPHRASE"] {
            #expect(result.stderr.contains(option), "the message does not name \(option):\n\(result)")
        }
        #expect(!cli.exists(cli.vault))
    }

    @Test("init on an existing vault: 73, the vault keeps working and no new key file is written")
    func initTwice() async throws {
        try await cli.initVault()
        let before = try cli.vaultFiles()
        let other = cli.root + "/second.key"
        let again = try await cli.run(["init", "--vault", cli.vault, "--generate-key-file", other])
        expectFailure(again, 73)
        #expect(!cli.exists(other))
        #expect(try cli.vaultFiles() == before)
        try await cli.succeed(["list"])

        let json = try await cli.run(["init", "--vault", cli.vault, "--generate-key-file", other, "--json"])
        expectFailure(json, 73, json: true)
    }

    @Test("init --json prints one JSON object")
    func json() async throws {
        let result = try await cli.run(["init", "--json", "--vault", cli.vault, "--generate-key-file", cli.keyFile])
        #expect(result.status == 0, "\(result)")
        let object = try #require(result.jsonObject, "not JSON:\n\(result)")
        #expect(object["vault"] as? String == cli.vault)
        #expect(object["slots"] as? [String] == ["key-file"])
        #expect(object["key_file"] as? String == cli.keyFile)
    }

    @Test(
        "SENDCLOUD_VAULT_KEY_FILE=k init --generate-key-file k: one key-file slot, and k then unlocks",
        // The same file spelled otherwise: the variable holds the absolute path, the working directory is the root.
        arguments: ["absolute", "./vault.key", "vault.key"]
    )
    func generateTheKeyFileNamedByEnvironment(spelling: String) async throws {
        let generated = spelling == "absolute" ? cli.keyFile : spelling
        let result = try await cli.run(
            ["init", "--json", "--vault", cli.vault, "--generate-key-file", generated],
            env: cli.keyEnv
        )
        #expect(result.status == 0, "\(result)")
        #expect(result.jsonObject?["slots"] as? [String] == ["key-file"])
        try await cli.succeed(["list"])
    }

    @Test("init --key-file with an existing key: that key unlocks")
    func existingKey() async throws {
        let key = try cli.writeRandomKey("mine.key")
        let result = try await cli.run(["init", "--vault", cli.vault, "--key-file", key])
        #expect(result.status == 0, "\(result)")
        let list = try await cli.run(["list", "--vault", cli.vault, "--key-file", key])
        #expect(list.status == 0, "\(list)")
    }

    @Test("--generate-key-file never overwrites: 73, the file untouched and no vault created")
    func generateKeyFileExists() async throws {
        let existing = try cli.writeFile("existing.key", "precious\n")
        let result = try await cli.run(["init", "--vault", cli.vault, "--generate-key-file", existing])
        expectFailure(result, 73)
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "precious\n")
        #expect(!cli.exists(cli.vault))
    }

    @Test("the default vault path is $XDG_DATA_HOME/sendcloud-vault/vault.sqlite, else ~/.local/share/…")
    func defaultPath() async throws {
        let xdg = cli.root + "/xdg"
        let result = try await cli.run(
            ["init", "--json", "--generate-key-file", cli.keyFile],
            env: ["XDG_DATA_HOME": xdg]
        )
        #expect(result.status == 0, "\(result)")
        #expect(result.jsonObject?["vault"] as? String == xdg + "/sendcloud-vault/vault.sqlite")
        #expect(cli.exists(xdg + "/sendcloud-vault/vault.sqlite"))

        let home = try await cli.run(["init", "--json", "--generate-key-file", cli.root + "/home.key"])
        #expect(home.status == 0, "\(home)")
        #expect(home.jsonObject?["vault"] as? String == cli.root + "/.local/share/sendcloud-vault/vault.sqlite")
        let list = try await cli.run(["list"], env: ["SENDCLOUD_VAULT_KEY_FILE": cli.root + "/home.key"])
        #expect(list.status == 0, "\(list)")
    }

    @Test("init with a key file and a passphrase makes both slots")
    func keyAndPassphrase() async throws {
        let env = ["SENDCLOUD_VAULT_PASSPHRASE": "both slots, long enough"]
        let result = try await cli.run(
            ["init", "--json", "--vault", cli.vault, "--generate-key-file", cli.keyFile],
            env: env
        )
        #expect(result.status == 0, "\(result)")
        #expect(result.jsonObject?["slots"] as? [String] == ["passphrase", "key-file"])
    }
}
