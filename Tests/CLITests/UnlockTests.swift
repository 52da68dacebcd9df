import Foundation
import Testing

@Suite("unlock")
struct UnlockTests {
    let cli: CLIHarness
    let secret = "cs-unlock-5c1d88e0"

    init() throws { cli = try CLIHarness() }

    /// A vault with a passphrase slot and a key-file slot, holding account `acme`.
    private func setUpBothSlots(passphrase: String) async throws {
        let result = try await cli.run(
            ["init", "--vault", cli.vault, "--generate-key-file", cli.keyFile],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": passphrase]
        )
        try #require(result.status == 0, "\(result)")
        try await cli.addAccount("acme", secret: secret)
    }

    @Test("a wrong passphrase: 77, and the vault file's bytes stay the same")
    func wrongPassphrase() async throws {
        let passphrase = "right passphrase"
        let file = try cli.writeFile("pass.txt", passphrase)
        let created = try await cli.run(["init", "--vault", cli.vault, "--passphrase-file", file])
        try #require(created.status == 0, "\(created)")
        let added = try await cli.run(
            [
                "add", "acme", "--client-id", "pub", "--client-secret-file", "-", "--vault", cli.vault,
                "--passphrase-file", file,
            ],
            stdin: Data(secret.utf8)
        )
        try #require(added.status == 0, "\(added)")
        let before = try cli.vaultFiles()

        let wrong = try await cli.run(
            ["add", "bolt", "--client-id", "pub", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": "wrong passphrase", "SENDCLOUD_CLIENT_SECRET": "cs-bolt"]
        )
        expectFailure(wrong, 77)
        expectNoSecrets(wrong, ["wrong passphrase", passphrase, "cs-bolt", secret])
        #expect(try cli.vaultFiles() == before, "a failed unlock changed the vault's files")

        let wrongJSON = try await cli.run(
            ["show", "acme", "--json", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": "wrong passphrase"]
        )
        expectFailure(wrongJSON, 77, json: true)
        #expect(try cli.vaultFiles() == before, "a failed unlock changed the vault's files")
    }

    @Test("a valid key that is not the vault's: 77")
    func wrongKeyFile() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: secret)
        let before = try cli.vaultFiles()
        let other = try cli.writeRandomKey("other.key")
        let result = try await cli.vaultRun(["show", "acme", "--reveal"], env: ["SENDCLOUD_VAULT_KEY_FILE": other])
        expectFailure(result, 77)
        expectNoSecrets(result, [secret])
        #expect(try cli.vaultFiles() == before)

        let viaFlag = try await cli.run(["list", "--vault", cli.vault, "--key-file", other])
        expectFailure(viaFlag, 77)
    }

    @Test("a malformed key file: 77, its content not echoed")
    func malformedKeyFile() async throws {
        try await cli.initVault()
        let garbage = "not-a-key-QmFkS2V5"
        let file = try cli.writeFile("bad.key", garbage + "\n")
        let result = try await cli.vaultRun(["list"], env: ["SENDCLOUD_VAULT_KEY_FILE": file])
        expectFailure(result, 77)
        expectNoSecrets(result, [garbage])

        let short = try cli.writeFile("short.key", Data(repeating: 7, count: 16).base64EncodedString())
        expectFailure(
            try await cli.vaultRun(["list", "--json"], env: ["SENDCLOUD_VAULT_KEY_FILE": short]),
            77,
            json: true
        )
    }

    @Test("SENDCLOUD_VAULT_KEY holds the key itself")
    func keyInEnvironment() async throws {
        try await cli.initVault()
        let key = try String(contentsOfFile: cli.keyFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let result = try await cli.run(["list", "--vault", cli.vault], env: ["SENDCLOUD_VAULT_KEY": key])
        #expect(result.status == 0, "\(result)")
        let wrong = Data(repeating: 1, count: 32).base64EncodedString()
        expectFailure(try await cli.run(["list", "--vault", cli.vault], env: ["SENDCLOUD_VAULT_KEY": wrong]), 77)
    }

    @Test("a key file readable by others (0644): 78")
    func keyFilePermissions() async throws {
        try await cli.initVault()
        #expect(chmod(cli.keyFile, 0o644) == 0)
        let result = try await cli.vaultRun(["list"])
        expectFailure(result, 78)
        #expect(result.stderr.contains("chmod 600"), "\(result)")
        #expect(chmod(cli.keyFile, 0o640) == 0)
        expectFailure(try await cli.vaultRun(["list", "--json"]), 78, json: true)
        #expect(chmod(cli.keyFile, 0o600) == 0)
        try await cli.succeed(["list"])
    }

    @Test("a passphrase file readable by others (0644): 78")
    func passphraseFilePermissions() async throws {
        let passphrase = "group readable"
        let file = try cli.writeFile("pass.txt", passphrase, mode: 0o644)
        let created = try await cli.run(["init", "--vault", cli.vault, "--passphrase-file", file])
        expectFailure(created, 78)
        expectNoSecrets(created, [passphrase])
        #expect(!cli.exists(cli.vault))

        try await cli.initVault()
        let result = try await cli.run(["list", "--vault", cli.vault, "--passphrase-file", file])
        expectFailure(result, 78)
        let viaEnv = try await cli.run(["list", "--vault", cli.vault], env: ["SENDCLOUD_VAULT_PASSPHRASE_FILE": file])
        expectFailure(viaEnv, 78)
    }

    @Test("a vault file readable by others (0644): 78")
    func vaultFilePermissions() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: secret)
        #expect(chmod(cli.vault, 0o644) == 0)
        let result = try await cli.vaultRun(["show", "acme"])
        expectFailure(result, 78)
        expectFailure(try await cli.vaultRun(["verify", "--json"]), 78, json: true)
        expectFailure(try await cli.vaultRun(["list"]), 78)
    }

    @Test("no vault at the path: 66")
    func noVault() async throws {
        let missing = cli.root + "/nowhere/vault.sqlite"
        let key = try cli.writeRandomKey("some.key")
        let result = try await cli.run(["list", "--vault", missing, "--key-file", key])
        expectFailure(result, 66)
        #expect(!cli.exists(cli.root + "/nowhere"), "a read command created the vault's directory")
        expectFailure(
            try await cli.run(["show", "acme", "--json", "--vault", missing, "--key-file", key]),
            66,
            json: true
        )

        // The default path is under $HOME (the test's directory).
        let byDefault = try await cli.run(["list"], env: ["SENDCLOUD_VAULT_KEY_FILE": key])
        expectFailure(byDefault, 66)
        #expect(byDefault.stderr.contains(cli.root + "/.local/share/sendcloud-vault/vault.sqlite"), "\(byDefault)")
    }

    @Test("no unlock source and no terminal: 78, naming the options")
    func noSource() async throws {
        try await cli.initVault()
        let result = try await cli.run(["list", "--vault", cli.vault])
        expectFailure(result, 78)
        for option in ["--key-file", "SENDCLOUD_VAULT_KEY", "--passphrase-file", "SENDCLOUD_VAULT_PASSPHRASE"] {
            #expect(result.stderr.contains(option), "the message does not name \(option):\n\(result)")
        }
    }

    @Test("first source wins: a valid key file beats a wrong SENDCLOUD_VAULT_PASSPHRASE")
    func keyFileWins() async throws {
        try await setUpBothSlots(passphrase: "the passphrase")
        let result = try await cli.vaultRun(["show", "acme", "--json"], env: ["SENDCLOUD_VAULT_PASSPHRASE": "wrong"])
        #expect(result.status == 0, "\(result)")
        #expect(result.jsonObject?["name"] as? String == "acme")
        let flag = try await cli.run(
            ["key", "list", "--json", "--vault", cli.vault, "--key-file", cli.keyFile],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": "wrong"]
        )
        #expect(flag.status == 0, "\(flag)")
        let opened = flag.jsonArray?.first { $0["unlocked_with"] as? Bool == true }
        #expect(opened?["kind"] as? String == "key-file", "\(flag)")
    }

    @Test("no fall-through: a wrong key file with a correct passphrase in the environment: 77")
    func noFallThrough() async throws {
        try await setUpBothSlots(passphrase: "the passphrase")
        let other = try cli.writeRandomKey("other.key")
        let before = try cli.vaultFiles()
        let result = try await cli.run(
            ["show", "acme", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_KEY_FILE": other, "SENDCLOUD_VAULT_PASSPHRASE": "the passphrase"]
        )
        expectFailure(result, 77)
        #expect(try cli.vaultFiles() == before)

        // A malformed key in SENDCLOUD_VAULT_KEY does not fall through to the passphrase either.
        let malformed = try await cli.run(
            ["show", "acme", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_KEY": "garbage", "SENDCLOUD_VAULT_PASSPHRASE": "the passphrase"]
        )
        expectFailure(malformed, 77)

        // The passphrase alone does open it.
        let alone = try await cli.run(
            ["show", "acme", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": "the passphrase"]
        )
        #expect(alone.status == 0, "\(alone)")
    }

    @Test("--passphrase-file - reads the passphrase from standard input; it beats SENDCLOUD_VAULT_PASSPHRASE")
    func passphraseFromStdin() async throws {
        let env = ["SENDCLOUD_VAULT_PASSPHRASE": "stdin passphrase"]
        let created = try await cli.run(["init", "--vault", cli.vault], env: env)
        try #require(created.status == 0, "\(created)")
        let result = try await cli.run(
            ["list", "--vault", cli.vault, "--passphrase-file", "-"],
            stdin: Data("stdin passphrase\n".utf8)
        )
        #expect(result.status == 0, "\(result)")
        let wrongFirst = try await cli.run(
            ["list", "--vault", cli.vault, "--passphrase-file", "-"],
            env: env,
            stdin: Data("wrong\n".utf8)
        )
        expectFailure(wrongFirst, 77)
    }

    @Test("--key-file beats SENDCLOUD_VAULT_KEY_FILE")
    func flagBeatsEnvironment() async throws {
        try await cli.initVault()
        let other = try cli.writeRandomKey("other.key")
        let good = try await cli.run(
            ["list", "--vault", cli.vault, "--key-file", cli.keyFile],
            env: ["SENDCLOUD_VAULT_KEY_FILE": other]
        )
        #expect(good.status == 0, "\(good)")
        let bad = try await cli.run(
            ["list", "--vault", cli.vault, "--key-file", other],
            env: ["SENDCLOUD_VAULT_KEY_FILE": cli.keyFile]
        )
        expectFailure(bad, 77)
    }
}
