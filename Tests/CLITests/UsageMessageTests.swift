import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Usage errors that say what is wrong, and durations written the way people type them — through the built binary.
@Suite("usage messages, durations and input checks")
struct UsageMessageTests {
    let cli: CLIHarness

    init() throws { cli = try CLIHarness() }

    @Test("a mistyped option is reported as unknown (refresh --al), not as a missing --all")
    func unknownOption() async throws {
        let result = try await cli.run(["refresh", "--al"])
        expectFailure(result, 64)
        #expect(result.stderr.contains("Unknown option '--al'"), "\(result)")
        #expect(!result.stderr.contains("give --all"), "\(result)")
        let update = try await cli.run(["update", "acme", "--clientid", "x"])
        expectFailure(update, 64)
        #expect(update.stderr.contains("Unknown option '--clientid'"), "\(update)")
    }

    @Test(
        "a secret given as a flag's value points to the file option and warns about the shell's history",
        arguments: [
            (["add", "acme", "--client-id", "x", "--client-secret", "s3cr3t-VALUE42"], "--client-secret-file"),
            (["add", "acme", "--client-id", "x", "--refresh-token=rt-VALUE42"], "--refresh-token-file"),
            (["list", "--passphrase", "pw-VALUE42"], "--passphrase-file"),
            (["init", "--key", "k-VALUE42"], "--key-file"),
        ]
    )
    func secretAsValue(arguments: [String], instead: String) async throws {
        for json in [false, true] {
            let result = try await cli.run(arguments + (json ? ["--json"] : []))
            expectFailure(result, 64, json: json)
            #expect(result.stderr.contains(instead), "\(result)")
            #expect(result.stderr.contains("history"), "\(result)")
            #expect(!result.mentions("VALUE42"), "the message repeats the secret:\n\(result)")
        }
    }

    @Test("an unknown subcommand suggests the nearest: tokn → token, lst → list; far from any, no guess")
    func nearestSubcommand() async throws {
        for (typed, meant) in [("tokn", "token"), ("lst", "list"), ("refesh", "refresh"), ("udpate", "update")] {
            let result = try await cli.run([typed, "acme"])
            expectFailure(result, 64)
            #expect(result.stderr.contains("Did you mean '\(meant)'?"), "\(result)")
        }
        let far = try await cli.run(["xyzzyplugh"])
        expectFailure(far, 64)
        #expect(!far.stderr.contains("Did you mean"), "\(far)")
        #expect(far.stderr.contains("unknown command"), "\(far)")
    }

    @Test("durations: 20 (seconds), 90s, 5m, 1h are accepted; junk is refused; help defaults read 5m, not seconds")
    func durations() async throws {
        try await cli.initVault()
        for value in ["20", "90s", "5m", "1h", "0"] {
            let result = try await cli.vaultRun(["refresh", "--all", "--ahead", value])
            #expect(result.status == 0, "--ahead \(value):\n\(result)")
        }
        for value in ["5 minutes", "-3s", "1y", "m", "99999999d"] {
            expectFailure(try await cli.vaultRun(["refresh", "--all", "--ahead", value]), 64)
        }
        let help = try await cli.run(["refresh", "--help"])
        #expect(help.stdout.contains("(default: 5m)"), "\(help.stdout)")
        #expect(help.stdout.contains("7d)"), "\(help.stdout)")
        #expect(!help.stdout.contains("seconds)"), "\(help.stdout)")
        let login = try await cli.run(["login", "--help"])
        #expect(login.stdout.contains("(default: 5m)"), "\(login.stdout)")
    }

    @Test("a vault in a folder that group or others may write is refused (78) by every command, verify included")
    func writableFolderRefused() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: "folder-secret")
        let folder = (cli.vault as NSString).deletingLastPathComponent
        for mode in [0o770, 0o707, 0o777] as [mode_t] {
            #expect(chmod(folder, mode) == 0)
            for command in [["list"], ["verify"], ["token", "acme", "--header"]] {
                let refused = try await cli.vaultRun(command)
                expectFailure(refused, 78)
                #expect(refused.stderr.contains("chmod go-w"), "\(command):\n\(refused)")
            }
        }
        #expect(chmod(folder, 0o700) == 0)
        try await cli.succeed(["verify"])
    }

    @Test("shell completion: the bash script is generated, and account names complete from the vault without unlocking")
    func completion() async throws {
        try await cli.initVault()
        for name in ["acme", "alpha", "bolt"] { try await cli.addAccount(name, secret: "completion-secret") }
        for shell in ["bash", "zsh", "fish"] {
            let script = try await cli.run(["--generate-completion-script", shell])
            #expect(script.status == 0 && script.stdout.contains("---completion"), "\(shell)")
        }
        // What the generated script runs for `sendcloud-vault token --vault V a<TAB>` (no key in the environment).
        let words = ["sendcloud-vault", "token", "--vault", cli.vault, "a"]
        let completed = try await cli.run(["---completion", "token", "--", "positional@0", "4", "1"] + words)
        #expect(completed.status == 0, "\(completed)")
        #expect(completed.stdout.split(separator: "\n") == ["acme", "alpha"], "\(completed)")
        let all = try await cli.run(
            ["---completion", "refresh", "--", "positional@0", "2", "0", "sendcloud-vault", "refresh", ""],
            env: ["SENDCLOUD_VAULT": cli.vault]
        )
        #expect(all.stdout.split(separator: "\n") == ["acme", "alpha", "bolt"], "\(all)")
        let nowhere = try await cli.run(
            [
                "---completion", "show", "--", "positional@0", "4", "0", "sendcloud-vault", "show", "--vault",
                "/nonexistent/v.sqlite", "",
            ]
        )
        #expect(nowhere.stdout.isEmpty, "\(nowhere)")
    }
}
