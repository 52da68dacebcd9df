import Foundation
import SendcloudTesting
import Testing

/// Text from the token endpoint or the store never reaches a header or a terminal unchecked (DESIGN §3), and a
/// damaged key slot does not lock the vault.
@Suite("Untrusted text and damaged slots, end to end")
struct UntrustedTextTests {
    static let clientID = "text-client"
    static let clientSecret = "text-secret-VALUE-9"

    let cli: CLIHarness
    let server: FakeSendcloud
    let refreshToken: String

    init() async throws {
        cli = try CLIHarness()
        server = try await FakeSendcloud.start()
        server.registerClient(id: Self.clientID, secret: Self.clientSecret)
        try await cli.initVault()
        refreshToken = try await cli.addRefreshAccount(
            "acme",
            server: server,
            clientID: Self.clientID,
            secret: Self.clientSecret
        )
    }

    @Test(
        "a token answer whose access token would inject a header line: 76, nothing printed, nothing stored",
        arguments: [
            #"{"access_token":"abc\r\nX-Injected: 1","token_type":"bearer","expires_in":3600}"#,
            #"{"access_token":"abc\u001b[2J","expires_in":3600}"#,
            #"{"access_token":"good","refresh_token":"rt\r\nX: 1","expires_in":3600}"#,
            #"{"access_token":"good","scope":"api\u001b]0;x\u0007","expires_in":3600}"#,
            #"{"access_token":"good","expires_in":-1}"#,
        ]
    )
    func injectedHeader(body: String) async throws {
        server.injectFaults([.json200(body)])
        let result = try await cli.vaultRun(["token", "acme", "--header"])
        expectFailure(result, 76)
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(!result.stderr.contains("X-Injected") && !result.stderr.contains("\u{1b}"), "\(result)")
        let shown = try await cli.reveal("acme")
        #expect(shown["refresh_token"] as? String == refreshToken)
        #expect(shown["has_access_token"] as? Bool == false)
        // The next answer is a good one and is used.
        let header = try await cli.succeed(["token", "acme", "--header"]).stdout
        #expect(header.hasPrefix("Authorization: Bearer ") && header.filter { $0 == "\n" }.count == 1)
        await server.stop()
    }

    @Test("huge expires_in (1e300) is clamped to 7 days, not zeroed: the next token call is served from the vault")
    func hugeLifetime() async throws {
        server.injectFaults([.json200(#"{"access_token":"tok-1","expires_in":1e300}"#)])
        #expect(try await cli.succeed(["token", "acme"]).stdout == "tok-1\n")
        #expect(try await cli.succeed(["token", "acme"]).stdout == "tok-1\n")
        #expect(server.stats.tokenRequests == 1)
        let expires = try #require(try await cli.reveal("acme")["access_token_expires_at"] as? String)
        let date = try #require(try? Date(expires, strategy: .iso8601))
        #expect(date.timeIntervalSinceNow > 6 * 86400 && date.timeIntervalSinceNow <= 7 * 86400 + 5)
        await server.stop()
    }

    @Test("control characters in stored text are escaped by show, list, refresh and error messages")
    func escapedOutput() async throws {
        // last_error and status are not authenticated (they steer scheduling only): an attacker may set them.
        try await cli.tamper(
            "UPDATE account SET status = 'reauth-required', last_error = 'bad' || char(27) || '[2J' || char(13) "
                + "|| 'forged line' || char(8207) WHERE name = 'acme'"
        )
        for command in [["show", "acme"], ["list"], ["token", "acme"], ["refresh", "acme"], ["refresh", "--all"]] {
            let result = try await cli.vaultRun(command)
            let output = result.stdout + result.stderr
            #expect(
                !output.unicodeScalars.contains { $0.value == 27 || $0.value == 13 || $0.value == 8207 },
                "\(command)"
            )
        }
        let shown = try await cli.succeed(["show", "acme"]).stdout
        #expect(shown.contains(#"bad\u{1b}[2J\u{d}forged line\u{200f}"#), "\(shown)")
        let token = try await cli.vaultRun(["token", "acme"])
        expectFailure(token, 80)
        #expect(!token.stderr.unicodeScalars.contains { $0.value == 27 || $0.value == 8207 }, "\(token)")
        // JSON output stays valid JSON with the text escaped by the encoder.
        let shownJSON = try await cli.succeed(["show", "acme", "--json"])
        #expect(!shownJSON.stdout.unicodeScalars.contains { $0.value == 27 || $0.value == 8207 }, "\(shownJSON)")
        let json = try #require(shownJSON.jsonObject)
        #expect((json["last_error"] as? String)?.contains("\u{1b}") == true)
        #expect((json["last_error"] as? String)?.contains("\u{200f}") == true)
        await server.stop()
    }

    @Test(
        "a damaged key slot is skipped at unlock and listed by key list and verify",
        arguments: [
            "UPDATE key_slot SET kind = 'bogus' WHERE id = (SELECT min(id) FROM key_slot)",
            "UPDATE key_slot SET wrapped_key = 'not a blob' WHERE id = (SELECT min(id) FROM key_slot)",
            "UPDATE key_slot SET kind = 'passphrase', salt = NULL WHERE id = (SELECT min(id) FROM key_slot)",
            "UPDATE key_slot SET key_id = -1 WHERE id = (SELECT min(id) FROM key_slot)",
        ]
    )
    func damagedSlot(sql: String) async throws {
        let second = cli.root + "/second.key"
        try await cli.succeed(["key", "add", "--generate-key-file", second])
        try await cli.tamper(sql)
        let withSecond = ["SENDCLOUD_VAULT_KEY_FILE": second]
        let list = try await cli.succeed(["key", "list"], env: withSecond)
        #expect(list.stdout.contains("damaged: key slot 1"), "\(list)")
        let json = try #require(try await cli.succeed(["key", "list", "--json"], env: withSecond).jsonArray)
        #expect(json.count == 2 && json.contains { $0["damaged"] as? Bool == true })
        #expect(try await cli.reveal("acme", env: withSecond)["client_secret"] as? String == Self.clientSecret)
        let verify = try await cli.vaultRun(["verify"], env: withSecond)
        expectFailure(verify, 65)
        #expect(verify.stdout.contains("key slot 1"), "\(verify)")
        // The damaged slot was the first key's only way in: that key no longer opens, with a clear message.
        let first = try await cli.vaultRun(["list"])
        expectFailure(first, 65)
        #expect(first.stderr.contains("damaged key slot"), "\(first)")
        await server.stop()
    }
}
