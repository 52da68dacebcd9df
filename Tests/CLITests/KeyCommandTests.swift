import Foundation
import Testing

/// `--key-command` / `SENDCLOUD_VAULT_KEY_COMMAND` and `--passphrase-command` / `SENDCLOUD_VAULT_PASSPHRASE_COMMAND`
/// through the built binary: unlocking, `init` and `key add` slots, the order among sources, and the failures (77).
// One test at a time: each starts many processes, and the whole suite shares two cores with timing-sensitive tests.
@Suite("key and passphrase commands", .serialized)
struct KeyCommandTests {
    let cli: CLIHarness
    let secret = "cs-keycommand-0b7e41"
    let passphrase = "command passphrase 6a0d"

    init() throws { cli = try CLIHarness() }

    /// A 0600 file holding a fresh base64 key, and a command that prints it.
    func keyCommand(_ name: String = "cmd.key") throws -> (file: String, command: String) {
        let file = try cli.writeRandomKey(name)
        return (file, "cat '\(file)'")
    }

    /// A command that prints ``passphrase``, from a 0600 file.
    func passphraseCommand() throws -> String {
        let file = try cli.writeFile("cmd.pass", passphrase + "\n")
        return "cat '\(file)'"
    }

    @Test("init --key-command makes a key-file slot for the printed key; the flag, the variable and the file unlock")
    func initWithKeyCommand() async throws {
        let (file, command) = try keyCommand()
        let created = try await cli.run(["init", "--vault", cli.vault, "--key-command", command, "--json"])
        try #require(created.status == 0, "\(created)")
        #expect(created.jsonObject?["slots"] as? [String] == ["key-file"], "\(created)")
        let env = ["SENDCLOUD_VAULT_KEY_FILE": ""]
        try await cli.succeed(
            ["add", "acme", "--client-id", "pub", "--client-secret-file", "-", "--key-command", command],
            env: env,
            stdin: Data(secret.utf8)
        )
        let byFlag = try await cli.vaultRun(["show", "acme", "--reveal", "--key-command", command], env: env)
        #expect(byFlag.status == 0 && byFlag.stdout.contains(secret), "\(byFlag)")
        let byVariable = try await cli.vaultRun(
            ["show", "acme"],
            env: env.merging(["SENDCLOUD_VAULT_KEY_COMMAND": command]) { $1 }
        )
        #expect(byVariable.status == 0, "\(byVariable)")
        let byFile = try await cli.vaultRun(["show", "acme"], env: ["SENDCLOUD_VAULT_KEY_FILE": file])
        #expect(byFile.status == 0, "\(byFile)")
        expectNoSecrets(byVariable, [secret])
    }

    @Test("init --passphrase-command makes a passphrase slot; the passphrase and the command unlock")
    func initWithPassphraseCommand() async throws {
        let command = try passphraseCommand()
        let created = try await cli.run(["init", "--vault", cli.vault, "--passphrase-command", command, "--json"])
        try #require(created.status == 0, "\(created)")
        #expect(created.jsonObject?["slots"] as? [String] == ["passphrase"], "\(created)")
        expectNoSecrets(created, [passphrase])
        let byPassphrase = try await cli.run(
            ["list", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": passphrase]
        )
        #expect(byPassphrase.status == 0, "\(byPassphrase)")
        let byCommand = try await cli.run(
            ["list", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_PASSPHRASE_COMMAND": command]
        )
        #expect(byCommand.status == 0, "\(byCommand)")
    }

    @Test("key add --new-key-command and --passphrase --new-passphrase-command add slots that unlock")
    func keyAddSlots() async throws {
        try await cli.initVault()
        let (_, command) = try keyCommand("second.key")
        let added = try await cli.succeed(["key", "add", "--new-key-command", command, "--json"])
        #expect(added.jsonObject?["kind"] as? String == "key-file", "\(added)")
        let byNewKey = try await cli.vaultRun(
            ["list"],
            env: ["SENDCLOUD_VAULT_KEY_FILE": "", "SENDCLOUD_VAULT_KEY_COMMAND": command]
        )
        #expect(byNewKey.status == 0, "\(byNewKey)")

        let passCommand = try passphraseCommand()
        let withPassphrase = try await cli.succeed([
            "key", "add", "--passphrase", "--new-passphrase-command", passCommand,
        ])
        expectNoSecrets(withPassphrase, [passphrase])
        let byPassphrase = try await cli.vaultRun(
            ["list"],
            env: ["SENDCLOUD_VAULT_KEY_FILE": "", "SENDCLOUD_VAULT_PASSPHRASE": passphrase]
        )
        #expect(byPassphrase.status == 0, "\(byPassphrase)")

        let both = try await cli.vaultRun(["key", "add", "--passphrase", "--new-key-command", command])
        expectFailure(both, 64)
    }

    @Test("passwd --new-passphrase-command changes the passphrase to what the command prints")
    func passwdWithCommand() async throws {
        let created = try await cli.run(
            ["init", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": "old passphrase"]
        )
        try #require(created.status == 0, "\(created)")
        let command = try passphraseCommand()
        let changed = try await cli.run(
            ["passwd", "--vault", cli.vault, "--new-passphrase-command", command],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": "old passphrase"]
        )
        #expect(changed.status == 0, "\(changed)")
        let old = try await cli.run(
            ["list", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": "old passphrase"]
        )
        expectFailure(old, 77)
        let new = try await cli.run(["list", "--vault", cli.vault], env: ["SENDCLOUD_VAULT_PASSPHRASE": passphrase])
        #expect(new.status == 0, "\(new)")
    }

    @Test("the order: among variables the key file and the key beat the key command; a flag beats every variable")
    func order() async throws {
        try await cli.initVault()
        let marker = cli.root + "/key-command-ran"
        let good = "touch '\(marker)'; cat '\(cli.keyFile)'"
        // Among variables: a wrong key file is the only source tried: 77, and the (right) command never runs.
        let wrongFile = try cli.writeRandomKey("wrong.key")
        let fileWins = try await cli.vaultRun(
            ["list"],
            env: ["SENDCLOUD_VAULT_KEY_FILE": wrongFile, "SENDCLOUD_VAULT_KEY_COMMAND": good]
        )
        expectFailure(fileWins, 77)
        #expect(fileWins.stderr.contains("the key file \(wrongFile) does not open the vault"), "\(fileWins)")
        #expect(!cli.exists(marker), "the key command ran though a key file was given")
        let wrongKey = try String(contentsOfFile: wrongFile, encoding: .utf8).trimmingCharacters(in: .newlines)
        let keyWins = try await cli.vaultRun(
            ["list"],
            env: ["SENDCLOUD_VAULT_KEY_FILE": "", "SENDCLOUD_VAULT_KEY": wrongKey, "SENDCLOUD_VAULT_KEY_COMMAND": good]
        )
        expectFailure(keyWins, 77)
        #expect(keyWins.stderr.contains("SENDCLOUD_VAULT_KEY does not open the vault"), "\(keyWins)")
        #expect(!cli.exists(marker), "the key command ran though SENDCLOUD_VAULT_KEY was set")
        // A flag beats every variable: --key-command wins over SENDCLOUD_VAULT_KEY.
        let flagWins = try await cli.vaultRun(
            ["list", "--key-command", good],
            env: ["SENDCLOUD_VAULT_KEY_FILE": "", "SENDCLOUD_VAULT_KEY": wrongKey]
        )
        #expect(flagWins.status == 0, "\(flagWins)")
        #expect(cli.exists(marker))
        // Among flags: the key command beats a (wrong) passphrase file.
        try FileManager.default.removeItem(atPath: marker)
        let wrongPass = try cli.writeFile("wrong.pass", "wrong")
        let commandWins = try await cli.vaultRun(
            ["list", "--key-command", good, "--passphrase-file", wrongPass],
            env: ["SENDCLOUD_VAULT_KEY_FILE": ""]
        )
        #expect(commandWins.status == 0, "\(commandWins)")
        #expect(cli.exists(marker))
        // Among variables: a (wrong) passphrase beats the passphrase command, which never runs.
        let passMarker = cli.root + "/passphrase-command-ran"
        let passphraseWins = try await cli.vaultRun(
            ["list"],
            env: [
                "SENDCLOUD_VAULT_KEY_FILE": "", "SENDCLOUD_VAULT_PASSPHRASE": "wrong",
                "SENDCLOUD_VAULT_PASSPHRASE_COMMAND": "touch '\(passMarker)'; echo x",
            ]
        )
        expectFailure(passphraseWins, 77)
        #expect(!cli.exists(passMarker))
        // ... but --passphrase-command on the command line beats it (and, printing a wrong one, is named).
        let commandFlag = try await cli.vaultRun(
            ["list", "--passphrase-command", "touch '\(passMarker)'; echo x"],
            env: ["SENDCLOUD_VAULT_KEY_FILE": "", "SENDCLOUD_VAULT_PASSPHRASE": "wrong"]
        )
        expectFailure(commandFlag, 77)
        #expect(cli.exists(passMarker))
        #expect(commandFlag.stderr.contains("the output of --passphrase-command does not open the vault"))
    }

    @Test("a non-zero exit: 77 naming the source, the status and stderr, never stdout; the vault unchanged")
    func nonZeroExit() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: secret)
        let before = try cli.vaultFiles()
        let leaked = "stdout-of-the-command-3f9a"
        let command = "printf '\(leaked)'; echo 'kms: access denied' >&2; exit 5"
        for json in [false, true] {
            let result = try await cli.vaultRun(
                ["show", "acme", "--reveal", "--key-command", command] + (json ? ["--json"] : []),
                env: ["SENDCLOUD_VAULT_KEY_FILE": ""]
            )
            expectFailure(result, 77, json: json)
            #expect(result.stderr.contains("--key-command"), "\(result)")
            #expect(result.stderr.contains("status 5"), "\(result)")
            #expect(result.stderr.contains("kms: access denied"), "\(result)")
            if json { #expect(result.jsonError?["kind"] as? String == "secret-command-failed", "\(result)") }
            expectNoSecrets(result, [leaked, secret])
        }
        let variable = try await cli.vaultRun(
            ["list"],
            env: ["SENDCLOUD_VAULT_KEY_FILE": "", "SENDCLOUD_VAULT_PASSPHRASE_COMMAND": command]
        )
        expectFailure(variable, 77)
        #expect(variable.stderr.contains("SENDCLOUD_VAULT_PASSPHRASE_COMMAND"), "\(variable)")
        expectNoSecrets(variable, [leaked])
        #expect(try cli.vaultFiles() == before, "a failed unlock changed the vault's files")
    }

    @Test("empty output: 77; init with a failing command creates no vault")
    func emptyOutput() async throws {
        let failed = try await cli.run(["init", "--vault", cli.vault, "--passphrase-command", "echo"])
        expectFailure(failed, 77)
        #expect(failed.stderr.contains("printed nothing"), "\(failed)")
        #expect(!cli.exists(cli.vault), "init created a vault after its command failed")
        try await cli.initVault()
        let result = try await cli.vaultRun(["list", "--key-command", "true"], env: ["SENDCLOUD_VAULT_KEY_FILE": ""])
        expectFailure(result, 77)
        #expect(result.stderr.contains("printed nothing"), "\(result)")
    }

    @Test("a hanging command is killed after SENDCLOUD_VAULT_COMMAND_TIMEOUT seconds: 77")
    func hangingCommand() async throws {
        try await cli.initVault()
        let start = ContinuousClock.now
        let result = try await cli.vaultRun(
            ["list", "--key-command", "echo hanging >&2; sleep 30"],
            env: ["SENDCLOUD_VAULT_KEY_FILE": "", "SENDCLOUD_VAULT_COMMAND_TIMEOUT": "1"]
        )
        let elapsed = ContinuousClock.now - start
        expectFailure(result, 77)
        #expect(result.stderr.contains("did not finish within 1 s"), "\(result)")
        #expect(result.stderr.contains("hanging"), "\(result)")
        #expect(elapsed < .seconds(10), "took \(elapsed)")
    }

    @Test("long stderr with control characters: the message is bounded and escaped")
    func hostileStderr() async throws {
        try await cli.initVault()
        let command = "{ printf '\\033]0;pwned\\007\\033[2J'; printf 'y%.0s' $(seq 1 10000); } >&2; exit 1"
        let result = try await cli.vaultRun(["list", "--key-command", command], env: ["SENDCLOUD_VAULT_KEY_FILE": ""])
        expectFailure(result, 77)
        #expect(!result.stderr.contains("\u{1B}"), "an escape character reached the terminal:\n\(result)")
        #expect(!result.stderr.contains("\u{07}"), "a bell reached the terminal:\n\(result)")
        #expect(result.stderr.contains("\\u{1b}]0;pwned"), "\(result)")
        #expect(result.stderr.count < 600, "\(result.stderr.count) characters:\n\(result)")
    }

    @Test("the command's stdin is closed: it does not get the CLI's standard input")
    func stdinClosed() async throws {
        try await cli.initVault()
        // Prints the key only if its standard input is empty; the CLI's standard input holds data.
        let command = "if [ \"$(wc -c)\" -eq 0 ]; then cat '\(cli.keyFile)'; else echo 'stdin was open' >&2; exit 9; fi"
        let result = try await cli.vaultRun(
            ["list", "--key-command", command],
            env: ["SENDCLOUD_VAULT_KEY_FILE": ""],
            stdin: Data("data for the CLI, not the command\n".utf8)
        )
        #expect(result.status == 0, "\(result)")
    }

    @Test("--help names the commands and their variables")
    func help() async throws {
        let root = try await cli.run(["--help"])
        let list = try await cli.run(["list", "--help"])
        let initHelp = try await cli.run(["init", "--help"])
        for text in [root.stdout, list.stdout, initHelp.stdout] {
            for name in [
                "--key-command", "SENDCLOUD_VAULT_KEY_COMMAND", "--passphrase-command",
                "SENDCLOUD_VAULT_PASSPHRASE_COMMAND",
            ] {
                #expect(text.contains(name), "\(name) missing from:\n\(text)")
            }
        }
        #expect(root.stdout.contains("SENDCLOUD_VAULT_COMMAND_TIMEOUT"))
        let keyAdd = try await cli.run(["key", "add", "--help"])
        #expect(keyAdd.stdout.contains("--new-key-command") && keyAdd.stdout.contains("--new-passphrase-command"))
    }

    @Test("a command does not see this tool's secret variables (client secret, passphrases, PGPASSWORD)")
    func secretsWithheldFromCommand() async throws {
        let (file, _) = try keyCommand()
        let dump = cli.root + "/env-dump"
        let command = "env > '\(dump)'; cat '\(file)'"
        let created = try await cli.run(["init", "--vault", cli.vault, "--key-command", command])
        try #require(created.status == 0, "\(created)")
        let withheld = [
            "SENDCLOUD_CLIENT_SECRET": "withheld-client-secret-1a1a", "SENDCLOUD_REFRESH_TOKEN": "withheld-rt-2b2b",
            "SENDCLOUD_VAULT_BACKUP_PASSPHRASE": "withheld-backup-3c3c", "PGPASSWORD": "withheld-pg-4d4d",
            "SENDCLOUD_VAULT_NEW_PASSPHRASE": "withheld-new-5e5e",
        ]
        let added = try await cli.vaultRun(
            ["add", "acme", "--client-id", "pub", "--key-command", command],
            env: withheld.merging(["SENDCLOUD_VAULT_KEY_FILE": "", "VISIBLE_MARKER": "seen-6f6f"]) { $1 }
        )
        #expect(added.status == 0, "\(added)")
        let seen = try String(contentsOfFile: dump, encoding: .utf8)
        #expect(seen.contains("VISIBLE_MARKER=seen-6f6f"))
        for value in withheld.values { #expect(!seen.contains(value), "a secret variable reached the command") }
    }

    @Test("a command that succeeds but leaves a background process holding stderr unlocks at once, not at the timeout")
    func backgroundProcessKeepsStderr() async throws {
        let (file, plain) = try keyCommand()
        let created = try await cli.run(["init", "--vault", cli.vault, "--key-command", plain])
        try #require(created.status == 0, "\(created)")
        let lingering = "cat '\(file)'; sleep 30 >/dev/null &"
        let started = ContinuousClock.now
        let result = try await cli.vaultRun(
            ["list", "--key-command", lingering],
            env: ["SENDCLOUD_VAULT_KEY_FILE": "", "SENDCLOUD_VAULT_COMMAND_TIMEOUT": "20"]
        )
        #expect(result.status == 0, "\(result)")
        // Not a timing assertion of speed: the command would have been killed at 20 s, and failed, had it waited.
        #expect(ContinuousClock.now - started < .seconds(20), "\(result)")
    }

}
