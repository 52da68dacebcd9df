import Foundation
import TestSupport
import Testing

/// Usage errors that say what is wrong, and durations written the way people type them — through the built binary.
@Suite("usage messages and durations")
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
}
