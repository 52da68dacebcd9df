import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("add")
struct AddTests {
    let cli: CLIHarness
    let secret = "cs-7f3a9b2e-client-secret"
    let refreshToken = "rt-51d0c4aa-refresh-token"

    init() throws { cli = try CLIHarness() }

    @Test("client secret from --client-secret-file; client-credentials and Sendcloud's token URL by default")
    func clientSecretFile() async throws {
        try await cli.initVault()
        // A secret file must be private (mode 0600), as key and passphrase files are: 78 otherwise, nothing added.
        for loose in [0o644, 0o640, 0o604] as [mode_t] {
            let readable = try cli.writeFile("secret-\(loose).txt", secret, mode: loose)
            let refused = try await cli.vaultRun(
                ["add", "acme", "--client-id", "pub-acme", "--client-secret-file", readable]
            )
            expectFailure(refused, 78)
            #expect(refused.stderr.contains("chmod 600") || refused.stderr.contains("0600"), "\(refused)")
            let refreshToken = try cli.writeFile("rt-\(loose).txt", "rt-value", mode: loose)
            expectFailure(
                try await cli.vaultRun(
                    [
                        "add", "bolt", "--client-id", "pub", "--client-secret-file", "-", "--refresh-token-file",
                        refreshToken,
                    ],
                    stdin: Data(secret.utf8)
                ),
                78
            )
        }
        expectFailure(try await cli.vaultRun(["show", "acme"]), 66)
        let file = try cli.writeFile("secret.txt", secret)
        let added = try await cli.succeed(["add", "acme", "--client-id", "pub-acme", "--client-secret-file", file])
        #expect(added.stdout.contains("acme"))
        expectNoSecrets(added, [secret])

        let shown = try await cli.reveal("acme")
        #expect(shown["client_secret"] as? String == secret)
        #expect(shown["client_id"] as? String == "pub-acme")
        #expect(shown["mode"] as? String == "client-credentials")
        #expect(shown["token_url"] as? String == "https://account.sendcloud.com/oauth2/token")
        #expect(shown["refresh_token"] is NSNull)
    }

    @Test("client secret from standard input (--client-secret-file -)")
    func clientSecretStdin() async throws {
        try await cli.initVault()
        let added = try await cli.succeed(
            ["add", "acme", "--client-id", "pub", "--client-secret-file", "-"],
            stdin: Data(secret.utf8)
        )
        expectNoSecrets(added, [secret])
        #expect(try await cli.reveal("acme")["client_secret"] as? String == secret)
    }

    @Test("client secret from SENDCLOUD_CLIENT_SECRET")
    func clientSecretEnvironment() async throws {
        try await cli.initVault()
        let added = try await cli.succeed(
            ["add", "acme", "--client-id", "pub"],
            env: ["SENDCLOUD_CLIENT_SECRET": secret]
        )
        expectNoSecrets(added, [secret])
        #expect(try await cli.reveal("acme")["client_secret"] as? String == secret)
    }

    @Test("--refresh-token-file: the mode defaults to refresh-token")
    func refreshTokenFile() async throws {
        try await cli.initVault()
        let tokenFile = try cli.writeFile("rt.txt", refreshToken + "\n")
        let added = try await cli.succeed(
            ["add", "bolt", "--client-id", "pub", "--refresh-token-file", tokenFile, "--json"],
            env: ["SENDCLOUD_CLIENT_SECRET": secret]
        )
        expectNoSecrets(added, [secret, refreshToken])
        #expect(added.jsonObject?["mode"] as? String == "refresh-token")
        #expect(added.jsonObject?["has_refresh_token"] as? Bool == true)

        let shown = try await cli.reveal("bolt")
        #expect(shown["mode"] as? String == "refresh-token")
        #expect(shown["refresh_token"] as? String == refreshToken)
        #expect(shown["client_secret"] as? String == secret)
    }

    @Test("SENDCLOUD_REFRESH_TOKEN: the mode defaults to refresh-token")
    func refreshTokenEnvironment() async throws {
        try await cli.initVault()
        let added = try await cli.succeed(
            ["add", "bolt", "--client-id", "pub"],
            env: ["SENDCLOUD_CLIENT_SECRET": secret, "SENDCLOUD_REFRESH_TOKEN": refreshToken]
        )
        expectNoSecrets(added, [secret, refreshToken])
        let shown = try await cli.reveal("bolt")
        #expect(shown["mode"] as? String == "refresh-token")
        #expect(shown["refresh_token"] as? String == refreshToken)
    }

    @Test("--mode basic")
    func basicMode() async throws {
        try await cli.initVault()
        try await cli.addAccount("plain", secret: secret, extra: ["--mode", "basic"])
        let shown = try await cli.reveal("plain")
        #expect(shown["mode"] as? String == "basic")
        #expect(shown["client_secret"] as? String == secret)
    }

    @Test("two secrets cannot both come from standard input: 64, nothing stored")
    func twoSecretsFromStdin() async throws {
        try await cli.initVault()
        let result = try await cli.vaultRun(
            ["add", "bolt", "--client-id", "pub", "--client-secret-file", "-", "--refresh-token-file", "-"],
            stdin: Data("\(secret)\n\(refreshToken)\n".utf8)
        )
        expectFailure(result, 64)
        #expect(result.stderr.contains("standard input"))
        expectNoSecrets(result, [secret, refreshToken])
        expectFailure(try await cli.vaultRun(["show", "bolt"]), 66)
    }

    @Test("there is no --client-secret flag taking the secret as its value: 64, value not echoed")
    func noSecretValueFlag() async throws {
        try await cli.initVault()
        for flag in ["--client-secret", "--refresh-token"] {
            let result = try await cli.vaultRun(["add", "acme", "--client-id", "pub", flag, secret])
            expectFailure(result, 64)
            expectNoSecrets(result, [secret])
        }
        expectFailure(try await cli.vaultRun(["show", "acme"]), 66)
    }

    @Test(
        "invalid account names: 64",
        arguments: ["-bad", "a b", String(repeating: "a", count: 129), ".x", "_x", "@x", "x/y", "é", "x:y"]
    )
    func invalidName(_ name: String) async throws {
        try await cli.initVault()
        // After "--" the name cannot be taken for an option, so the CLI's own name check answers.
        let result = try await cli.run(
            ["add", "--vault", cli.vault, "--client-id", "pub", "--json", "--", name],
            env: cli.keyEnv.merging(["SENDCLOUD_CLIENT_SECRET": secret]) { $1 }
        )
        expectFailure(result, 64, json: true)
        expectNoSecrets(result, [secret])
        let flagFirst = try await cli.vaultRun(
            ["add", name, "--client-id", "pub"],
            env: ["SENDCLOUD_CLIENT_SECRET": secret]
        )
        #expect(flagFirst.status == 64, "\(flagFirst)")
        let list = try await cli.succeed(["list", "--json"])
        #expect(list.jsonArray?.isEmpty == true)
    }

    @Test(
        "valid account names at the edges are accepted",
        arguments: [String(repeating: "a", count: 128), "0", "a.b_c-d@e"]
    )
    func validName(_ name: String) async throws {
        try await cli.initVault()
        try await cli.addAccount(name, secret: secret)
        #expect(try await cli.reveal(name)["name"] as? String == name)
    }

    @Test("a name that exists already: 73, the first account unchanged")
    func duplicateName() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: secret)
        let result = try await cli.vaultRun(
            ["add", "acme", "--client-id", "other", "--client-secret-file", "-"],
            stdin: Data("another-secret".utf8)
        )
        expectFailure(result, 73)
        expectNoSecrets(result, [secret, "another-secret"])
        let shown = try await cli.reveal("acme")
        #expect(shown["client_secret"] as? String == secret)
        #expect(shown["client_id"] as? String == "public-key")
    }

    @Test("plain http to a non-loopback token URL: 78, nothing stored")
    func insecureTokenURL() async throws {
        try await cli.initVault()
        let result = try await cli.vaultRun(
            ["add", "acme", "--client-id", "pub", "--token-url", "http://example.com/token"],
            env: ["SENDCLOUD_CLIENT_SECRET": secret]
        )
        expectFailure(result, 78)
        expectNoSecrets(result, [secret])
        expectFailure(try await cli.vaultRun(["show", "acme"]), 66)

        let fromEnv = try await cli.vaultRun(
            ["add", "acme", "--client-id", "pub"],
            env: ["SENDCLOUD_CLIENT_SECRET": secret, "SENDCLOUD_TOKEN_URL": "http://tokens.example.com/oauth2/token"]
        )
        expectFailure(fromEnv, 78)
    }

    @Test(
        "plain http to a loopback token URL is accepted and stored",
        arguments: [
            "http://127.0.0.1:9/token", "http://localhost:8080/token", "http://[::1]:8080/token", "http://127.4.5.6/t",
        ]
    )
    func loopbackTokenURL(_ url: String) async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: secret, extra: ["--token-url", url])
        #expect(try await cli.reveal("acme")["token_url"] as? String == url)
    }

    @Test(
        "insecure or malformed token URLs: 78",
        arguments: [
            "HTTP://EXAMPLE.COM/token", "http://127.0.0.1@example.com/token", "https:///token", "ftp://127.0.0.1/token",
            "token",
        ]
    )
    func refusedTokenURL(_ url: String) async throws {
        try await cli.initVault()
        let result = try await cli.vaultRun(
            ["add", "acme", "--client-id", "pub", "--token-url", url],
            env: ["SENDCLOUD_CLIENT_SECRET": secret]
        )
        expectFailure(result, 78)
    }

    /// A host *name* that begins with "127." is resolved by DNS and can point anywhere; only an IPv4 literal in
    /// 127.0.0.0/8 (or localhost / ::1) is loopback.
    @Test(
        "plain http to a DNS name that merely starts with \"127.\" is not loopback: 78",
        arguments: ["http://127.0.0.1.nip.io/token", "http://127.attacker.example/token"]
    )
    func hostNameStartingWith127(_ url: String) async throws {
        try await cli.initVault()
        let result = try await cli.vaultRun(
            ["add", "acme", "--client-id", "pub", "--token-url", url],
            env: ["SENDCLOUD_CLIENT_SECRET": secret]
        )
        expectFailure(result, 78)
    }

    @Test("SENDCLOUD_TOKEN_URL is used when there is no --token-url; the flag wins over it")
    func tokenURLEnvironment() async throws {
        try await cli.initVault()
        let env = [
            "SENDCLOUD_TOKEN_URL": "https://tokens.example.test/oauth2/token", "SENDCLOUD_CLIENT_SECRET": secret,
        ]
        try await cli.succeed(["add", "acme", "--client-id", "pub"], env: env)
        #expect(try await cli.reveal("acme")["token_url"] as? String == "https://tokens.example.test/oauth2/token")

        try await cli.succeed(
            ["add", "bolt", "--client-id", "pub", "--token-url", "https://flag.example.test/t"],
            env: env
        )
        #expect(try await cli.reveal("bolt")["token_url"] as? String == "https://flag.example.test/t")
    }

    @Test("refresh-token mode without a refresh token: 64")
    func refreshTokenModeWithoutToken() async throws {
        try await cli.initVault()
        let result = try await cli.vaultRun(
            ["add", "bolt", "--client-id", "pub", "--mode", "refresh-token"],
            env: ["SENDCLOUD_CLIENT_SECRET": secret]
        )
        expectFailure(result, 64)
        #expect(result.stderr.contains("--refresh-token-file"))
        expectFailure(try await cli.vaultRun(["show", "bolt"]), 66)
    }

    @Test("no client secret and no terminal: 64, naming where it can come from")
    func missingClientSecret() async throws {
        try await cli.initVault()
        let result = try await cli.vaultRun(["add", "acme", "--client-id", "pub"])
        expectFailure(result, 64)
        #expect(result.stderr.contains("--client-secret-file"))
        #expect(result.stderr.contains("SENDCLOUD_CLIENT_SECRET"))
        expectFailure(try await cli.vaultRun(["show", "acme"]), 66)
    }

    @Test(
        "one trailing newline of a secret file is stripped",
        arguments: [
            ("\n", ""), ("\r\n", ""), ("\n\n", "\n"), ("", ""),
        ]
    )
    func trailingNewline(_ ending: String, _ kept: String) async throws {
        try await cli.initVault()
        let secretFile = try cli.writeFile("secret.txt", secret + ending)
        let tokenFile = try cli.writeFile("token.txt", refreshToken + ending)
        try await cli.succeed(
            [
                "add", "bolt", "--client-id", "pub", "--client-secret-file", secretFile, "--refresh-token-file",
                tokenFile,
            ])
        let shown = try await cli.reveal("bolt")
        #expect(shown["client_secret"] as? String == secret + kept)
        #expect(shown["refresh_token"] as? String == refreshToken + kept)
    }

    @Test("an empty secret file is refused: 64")
    func emptySecret() async throws {
        try await cli.initVault()
        let file = try cli.writeFile("empty.txt", "\n")
        let result = try await cli.vaultRun(["add", "acme", "--client-id", "pub", "--client-secret-file", file])
        expectFailure(result, 64)
    }

    @Test("a secret over 64 KiB or with a NUL byte is refused: 64")
    func oversizedOrNULSecret() async throws {
        try await cli.initVault()
        let big = try cli.writeFile("big.txt", String(repeating: "s", count: 64 * 1024 + 1))
        expectFailure(try await cli.vaultRun(["add", "acme", "--client-id", "pub", "--client-secret-file", big]), 64)
        let exact = try cli.writeFile("exact.txt", String(repeating: "s", count: 64 * 1024))
        try await cli.succeed(["add", "acme", "--client-id", "pub", "--client-secret-file", exact])
        let nul = try cli.writeFile("nul.txt", Data("ab\u{0}cd".utf8))
        expectFailure(try await cli.vaultRun(["add", "bolt", "--client-id", "pub", "--client-secret-file", nul]), 64)
    }

    @Test("the client secret and the passphrase cannot both come from standard input: 64")
    func secretAndPassphraseFromStdin() async throws {
        try await cli.initVault()
        let result = try await cli.vaultRun(
            ["add", "acme", "--client-id", "pub", "--client-secret-file", "-", "--passphrase-file", "-"],
            env: ["SENDCLOUD_VAULT_KEY_FILE": ""],
            stdin: Data("\(secret)\n".utf8)
        )
        expectFailure(result, 64)
        expectNoSecrets(result, [secret])
    }

    @Test("a missing secret file: a clear error, nothing stored")
    func missingSecretFile() async throws {
        try await cli.initVault()
        let result = try await cli.vaultRun(
            ["add", "acme", "--client-id", "pub", "--client-secret-file", cli.root + "/absent.txt"])
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("absent.txt"), "\(result)")
        expectFailure(try await cli.vaultRun(["show", "acme"]), 66)
    }

    @Test("--scope is stored")
    func scope() async throws {
        try await cli.initVault()
        try await cli.addAccount("acme", secret: secret, extra: ["--scope", "api offline_access"])
        #expect(try await cli.reveal("acme")["scopes"] as? String == "api offline_access")
    }
}
