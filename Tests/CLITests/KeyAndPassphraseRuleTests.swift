import Foundation
import TestSupport
import Testing

/// `key add --new-key-file` and the short-passphrase rule, through the built binary.
@Suite("key add --new-key-file and weak passphrases")
struct KeyAndPassphraseRuleTests {
    let cli: CLIHarness

    init() throws { cli = try CLIHarness() }

    @Test("key add --new-key-file enrols an existing key file (0600 only), which then unlocks the vault")
    func enrolExistingKeyFile() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: "enrol-secret")
        let existing = try cli.writeRandomKey("existing.key")
        expectFailure(try await cli.vaultRun(["list"], env: ["SENDCLOUD_VAULT_KEY_FILE": existing]), 77)
        #expect(chmod(existing, 0o644) == 0)
        expectFailure(try await cli.vaultRun(["key", "add", "--new-key-file", existing]), 78)
        #expect(chmod(existing, 0o600) == 0)
        let added = try await cli.succeed(["key", "add", "--new-key-file", existing, "--json"])
        #expect(added.jsonObject?["kind"] as? String == "key-file")
        let listed = try await cli.vaultRun(["list"], env: ["SENDCLOUD_VAULT_KEY_FILE": existing])
        #expect(listed.status == 0 && listed.stdout.contains("acme"), "\(listed)")
        let confused = try await cli.vaultRun(["key", "add", "--key-file", existing])
        expectFailure(confused, 64)
        #expect(confused.stderr.contains("--new-key-file"), "\(confused)")
        expectFailure(try await cli.vaultRun(["key", "add", "--new-key-file", cli.root + "/missing.key"]), 66)
    }

    @Test("a passphrase shorter than 12 characters is refused without a terminal unless --allow-weak-passphrase")
    func weakPassphrase() async throws {
        let short = try cli.writeFile("short.pass", "tiny-pw")
        let refused = try await cli.run(["init", "--vault", cli.vault, "--passphrase-file", short])
        expectFailure(refused, 64)
        #expect(refused.stderr.contains("--allow-weak-passphrase"), "\(refused)")
        #expect(!cli.exists(cli.vault), "a refused init created a vault")
        let created = try await cli.run(
            ["init", "--vault", cli.vault, "--passphrase-file", short, "--allow-weak-passphrase"]
        )
        #expect(created.status == 0, "\(created)")
        let unlock = ["SENDCLOUD_VAULT_PASSPHRASE_FILE": short]
        // Characters, not bytes: eleven two-byte letters are still too short; twelve are enough.
        let accented = try cli.writeFile("accented.pass", String(repeating: "é", count: 11))
        let twelve = try cli.writeFile("twelve.pass", String(repeating: "é", count: 12))
        for command in [["passwd"], ["key", "add", "--passphrase"]] {
            for file in [short, accented] {
                let weak = try await cli.run(
                    command + ["--vault", cli.vault, "--new-passphrase-file", file],
                    env: unlock
                )
                expectFailure(weak, 64)
                #expect(weak.stderr.contains("fewer than 12"), "\(weak)")
            }
        }
        let added = try await cli.run(
            ["key", "add", "--passphrase", "--vault", cli.vault, "--new-passphrase-file", twelve],
            env: unlock
        )
        #expect(added.status == 0, "\(added)")
        let changed = try await cli.run(
            ["passwd", "--vault", cli.vault, "--new-passphrase-file", short, "--allow-weak-passphrase"],
            env: unlock
        )
        #expect(changed.status == 0, "\(changed)")
    }
}
