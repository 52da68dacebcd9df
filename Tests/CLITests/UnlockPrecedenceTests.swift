import Foundation
import TestSupport
import Testing

/// DESIGN §6's unlock order through the built binary: a source given as a flag wins over every environment variable
/// (a variable left in a shell profile must not break `--passphrase-file` on the command line), and a failed unlock
/// names the source it tried, never its content.
@Suite("unlock: what the user typed wins", .serialized)
struct UnlockPrecedenceTests {
    let cli: CLIHarness
    let passphrase = "correct horse battery staple 41"

    init() throws { cli = try CLIHarness() }

    /// Every unlock variable, each set to a source that does not open the vault (the key command fails).
    func wrongVariables() throws -> [String: String] {
        [
            "SENDCLOUD_VAULT_KEY_FILE": try cli.writeRandomKey("wrong.key"),
            "SENDCLOUD_VAULT_KEY": try String(contentsOfFile: try cli.writeRandomKey("wrong2.key"), encoding: .utf8)
                .trimmingCharacters(in: .newlines),
            "SENDCLOUD_VAULT_KEY_COMMAND": "echo 'no key here' >&2; exit 3",
            "SENDCLOUD_VAULT_PASSPHRASE_FILE": try cli.writeFile("wrong.pass", "not the passphrase"),
            "SENDCLOUD_VAULT_PASSPHRASE": "not the passphrase either",
            "SENDCLOUD_VAULT_PASSPHRASE_COMMAND": "echo wrong",
        ]
    }

    /// A vault with a key-file slot (``CLIHarness/keyFile``) and a passphrase slot, and one account.
    func makeVault() async throws -> String {
        try await cli.initVault()
        let file = try cli.writeFile("right.pass", passphrase)
        try await cli.succeed(["key", "add", "--passphrase", "--new-passphrase-file", file])
        try await cli.addAccount("acme", secret: "s3cret-value-for-acme")
        return file
    }

    @Test("each unlock flag beats every environment variable at once")
    func flagBeatsAllVariables() async throws {
        let passphraseFile = try await makeVault()
        let variables = try wrongVariables()
        let flags: [[String]] = [
            ["--key-file", cli.keyFile],
            ["--key-command", "cat '\(cli.keyFile)'"],
            ["--passphrase-file", passphraseFile],
            ["--passphrase-command", "cat '\(passphraseFile)'"],
        ]
        for flag in flags {
            let result = try await cli.run(["list", "--vault", cli.vault] + flag, env: variables)
            #expect(result.status == 0, "\(flag[0]) lost to a variable:\n\(result)")
            #expect(result.stdout.contains("acme"))
        }
    }

    @Test("a flag beats each variable on its own, the passphrase file beating a key variable too")
    func flagBeatsEachVariable() async throws {
        let passphraseFile = try await makeVault()
        for (name, value) in try wrongVariables() {
            for flag in [["--passphrase-file", passphraseFile], ["--key-file", cli.keyFile]] {
                let result = try await cli.run(["list", "--vault", cli.vault] + flag, env: [name: value])
                #expect(result.status == 0, "\(flag[0]) lost to \(name):\n\(result)")
            }
        }
    }

    @Test("without flags the variables keep their order; the failure names the source tried, not its content")
    func variablesInOrderAndNamed() async throws {
        _ = try await makeVault()
        let variables = try wrongVariables()
        let keyFile = try #require(variables["SENDCLOUD_VAULT_KEY_FILE"])
        let all = try await cli.run(["list", "--vault", cli.vault], env: variables)
        expectFailure(all, 77)
        #expect(all.stderr.contains("the key file \(keyFile) does not open the vault"), "\(all)")
        var rest = variables
        rest["SENDCLOUD_VAULT_KEY_FILE"] = nil
        let key = try await cli.run(["list", "--vault", cli.vault], env: rest)
        expectFailure(key, 77)
        #expect(key.stderr.contains("SENDCLOUD_VAULT_KEY does not open the vault"), "\(key)")
        #expect(!key.mentions(try #require(variables["SENDCLOUD_VAULT_KEY"])))
        let passphraseOnly = try await cli.run(
            ["list", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": "not the passphrase either"]
        )
        expectFailure(passphraseOnly, 77)
        #expect(passphraseOnly.stderr.contains("SENDCLOUD_VAULT_PASSPHRASE does not open the vault"))
        #expect(!passphraseOnly.mentions("not the passphrase either"))
    }

    @Test("init with a flag makes slots from the flags only, not from a variable in the environment")
    func initUsesFlagsOnly() async throws {
        let passphraseFile = try cli.writeFile("init.pass", passphrase)
        let strayKey = try cli.writeRandomKey("stray.key")
        let created = try await cli.run(
            ["init", "--vault", cli.vault, "--passphrase-file", passphraseFile, "--json"],
            env: ["SENDCLOUD_VAULT_KEY_FILE": strayKey]
        )
        #expect(created.status == 0, "\(created)")
        #expect(created.jsonObject?["slots"] as? [String] == ["passphrase"], "\(created)")
        let stray = try await cli.run(["list", "--vault", cli.vault], env: ["SENDCLOUD_VAULT_KEY_FILE": strayKey])
        expectFailure(stray, 77)
    }
}
