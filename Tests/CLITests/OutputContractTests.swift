import Foundation
import Testing

/// A failing command and the exit code it must produce.
struct FailingCase: Sendable, CustomTestStringConvertible {
    var label: String
    var code: Int32
    /// Arguments; `V` stands for the vault path, `K` for the key file, `R` for the test directory.
    var arguments: [String]
    var env: [String: String] = [:]
    var stdin: String?
    /// Whether the test should not unlock with the vault's key file.
    var withoutKey = false

    var testDescription: String { "\(label) → \(code)" }
}

@Suite("output contract")
struct OutputContractTests {
    let cli: CLIHarness
    let secret = "cs-contract-abcdef12"
    let refreshToken = "rt-contract-3456789a"

    init() throws { cli = try CLIHarness() }

    private func setUp() async throws {
        try await cli.initVault()
        try await cli.succeed(
            ["add", "acme", "--client-id", "pub-acme"],
            env: ["SENDCLOUD_CLIENT_SECRET": secret, "SENDCLOUD_REFRESH_TOKEN": refreshToken]
        )
    }

    static let failingCases: [FailingCase] = [
        FailingCase(label: "show unknown account", code: 66, arguments: ["show", "nobody", "--vault", "V"]),
        FailingCase(label: "remove unknown account", code: 66, arguments: ["remove", "nobody", "--vault", "V"]),
        FailingCase(
            label: "no vault",
            code: 66,
            arguments: ["list", "--vault", "R/missing/vault.sqlite"]
        ),
        FailingCase(
            label: "add invalid name",
            code: 64,
            arguments: ["add", "a b", "--client-id", "x", "--vault", "V"],
            env: ["SENDCLOUD_CLIENT_SECRET": "cs-contract-abcdef12"]
        ),
        FailingCase(
            label: "add duplicate",
            code: 73,
            arguments: ["add", "acme", "--client-id", "x", "--vault", "V"],
            env: ["SENDCLOUD_CLIENT_SECRET": "cs-contract-abcdef12"]
        ),
        FailingCase(
            label: "add insecure token URL",
            code: 78,
            arguments: ["add", "new", "--client-id", "x", "--token-url", "http://example.com/t", "--vault", "V"],
            env: ["SENDCLOUD_CLIENT_SECRET": "cs-contract-abcdef12"]
        ),
        FailingCase(
            label: "add two secrets from stdin",
            code: 64,
            arguments: [
                "add", "new", "--client-id", "x", "--client-secret-file", "-", "--refresh-token-file", "-", "--vault",
                "V",
            ],
            stdin: "cs-contract-abcdef12\nrt-contract-3456789a\n"
        ),
        FailingCase(
            label: "unknown flag carrying a secret",
            code: 64,
            arguments: ["add", "new", "--client-id", "x", "--client-secret", "cs-contract-abcdef12", "--vault", "V"]
        ),
        FailingCase(label: "unknown subcommand", code: 64, arguments: ["frobnicate", "--vault", "V"]),
        FailingCase(label: "init on an existing vault", code: 73, arguments: ["init", "--vault", "V"]),
        FailingCase(
            label: "wrong passphrase",
            code: 77,
            arguments: ["show", "acme", "--vault", "V"],
            env: ["SENDCLOUD_VAULT_PASSPHRASE": "not it"],
            withoutKey: true
        ),
        FailingCase(
            label: "no unlock source",
            code: 78,
            arguments: ["list", "--vault", "V"],
            withoutKey: true
        ),
        FailingCase(label: "remove the last key slot", code: 64, arguments: ["key", "remove", "1", "--vault", "V"]),
    ]

    @Test(
        "--json errors: {\"error\": {code, kind, message}} on stderr with the same exit code",
        arguments: failingCases
    )
    func jsonErrors(_ failing: FailingCase) async throws {
        try await setUp()
        let arguments = failing.arguments.map { argument in
            switch argument {
            case "V": cli.vault
            case "K": cli.keyFile
            default: argument.replacingOccurrences(of: "R/", with: cli.root + "/")
            }
        }
        var env = failing.withoutKey ? [:] : cli.keyEnv
        env.merge(failing.env) { $1 }
        let stdin = failing.stdin.map { Data($0.utf8) }

        let json = try await cli.run(arguments + ["--json"], env: env, stdin: stdin)
        expectFailure(json, failing.code, json: true)
        expectNoSecrets(json, [secret, refreshToken])

        let text = try await cli.run(arguments, env: env, stdin: stdin)
        expectFailure(text, failing.code)
        #expect(text.stdout.isEmpty, "a failure printed to stdout:\n\(text)")
        #expect(!text.stderr.isEmpty, "a failure said nothing:\n\(text)")
        expectNoSecrets(text, [secret, refreshToken])
    }

    @Test("--json before the subcommand's arguments also gives a JSON error")
    func jsonFirst() async throws {
        try await setUp()
        let result = try await cli.run(["show", "--json", "--vault", cli.vault, "nobody"], env: cli.keyEnv)
        expectFailure(result, 66, json: true)
        #expect(result.jsonError?["kind"] as? String == "not-found")
    }

    @Test("secrets never appear in the output of commands that do not reveal them")
    func noSecretsAnywhere() async throws {
        try await cli.initVault()
        let secrets = [secret, refreshToken]
        let tokenFile = try cli.writeFile("rt.txt", refreshToken + "\n")
        var results: [CLIResult] = []
        results.append(
            try await cli.succeed(
                ["add", "acme", "--client-id", "pub", "--client-secret-file", "-", "--refresh-token-file", tokenFile],
                stdin: Data(secret.utf8)
            )
        )
        results.append(
            try await cli.succeed(
                ["add", "bolt", "--client-id", "pub", "--json"],
                env: ["SENDCLOUD_CLIENT_SECRET": secret, "SENDCLOUD_REFRESH_TOKEN": refreshToken]
            )
        )
        for arguments in [
            ["show", "acme"], ["show", "acme", "--json"], ["list"], ["list", "--json"], ["verify"],
            ["verify", "--json"],
            ["key", "list"], ["key", "list", "--json"], ["rotate-key"], ["rotate-key", "--json"],
        ] {
            results.append(try await cli.succeed(arguments))
        }
        // Failures that had a secret in hand.
        results.append(
            try await cli.vaultRun(
                ["add", "acme", "--client-id", "pub", "--client-secret-file", "-"],
                stdin: Data(secret.utf8)
            )
        )
        results.append(
            try await cli.vaultRun(
                ["add", "acme", "--client-id", "pub", "--json"],
                env: ["SENDCLOUD_CLIENT_SECRET": secret]
            )
        )
        results.append(
            try await cli.vaultRun(
                ["add", "new", "--client-id", "pub", "--token-url", "http://10.0.0.1/t"],
                env: ["SENDCLOUD_CLIENT_SECRET": secret, "SENDCLOUD_REFRESH_TOKEN": refreshToken]
            )
        )
        results.append(try await cli.vaultRun(["show", "nobody", "--reveal"]))
        for result in results { expectNoSecrets(result, secrets) }
        #expect(results.count == 16)
        #expect(results.suffix(4).map(\.status) == [73, 73, 78, 66])
        #expect(results[2].stdout.contains("acme") && results[2].stdout.contains("hidden"), "\(results[2])")
        #expect(results[5].jsonArray?.count == 2, "\(results[5])")
    }

    @Test(
        "--help exits 0 for every command",
        arguments: [
            [], ["init"], ["add"], ["show"], ["list"], ["remove"], ["verify"], ["passwd"], ["key"], ["key", "list"],
            ["key", "add"], ["key", "remove"], ["rotate-key"],
        ]
    )
    func help(_ command: [String]) async throws {
        let result = try await cli.run(command + ["--help"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("USAGE"), "\(result)")
        let viaHelp = try await cli.run(["help"] + command)
        #expect(viaHelp.status == 0, "\(viaHelp)")
    }

    @Test("add --help says where secrets come from")
    func addHelp() async throws {
        let result = try await cli.run(["add", "--help"])
        #expect(result.status == 0, "\(result)")
        for text in [
            "--client-secret-file", "SENDCLOUD_CLIENT_SECRET", "--refresh-token-file", "SENDCLOUD_REFRESH_TOKEN",
            "stdin",
        ] {
            #expect(result.stdout.contains(text), "add --help does not mention \(text):\n\(result)")
        }
        #expect(!result.stdout.contains("--client-secret "), "add --help lists a flag taking a secret:\n\(result)")
    }

    @Test("init --help says where the passphrase or key comes from")
    func initHelp() async throws {
        let result = try await cli.run(["init", "--help"])
        #expect(result.status == 0, "\(result)")
        for text in [
            "--generate-key-file", "--key-file", "--passphrase-file", "SENDCLOUD_VAULT_PASSPHRASE",
            "SENDCLOUD_VAULT_KEY",
            "terminal",
        ] {
            #expect(result.stdout.contains(text), "init --help does not mention \(text):\n\(result)")
        }
    }

    @Test("--version exits 0")
    func version() async throws {
        let result = try await cli.run(["--version"])
        #expect(result.status == 0, "\(result)")
        #expect(!result.stdout.isEmpty)
    }
}
