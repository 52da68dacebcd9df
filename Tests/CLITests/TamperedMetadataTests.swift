import Foundation
import SendcloudTesting
import Testing

/// Someone who can write the vault file edits the plaintext columns that decide where a secret goes (DESIGN §3):
/// the edit is an integrity failure found before any request is sent, `verify` names it, and undoing the edit makes
/// the account work again.
@Suite("Tampered metadata end to end")
struct TamperedMetadataTests {
    static let clientID = "meta-client"
    static let clientSecret = "meta-secret-VALUE-7"

    let cli: CLIHarness
    let server: FakeSendcloud
    /// Stands in for the attacker: a second token endpoint on 127.0.0.1 that counts what reaches it.
    let attacker: FakeSendcloud

    init() async throws {
        cli = try CLIHarness()
        server = try await FakeSendcloud.start()
        attacker = try await FakeSendcloud.start()
        server.registerClient(id: Self.clientID, secret: Self.clientSecret)
        attacker.registerClient(id: Self.clientID, secret: Self.clientSecret)
        try await cli.initVault()
        try await cli.addRefreshAccount(
            "acme",
            server: server,
            clientID: Self.clientID,
            secret: Self.clientSecret,
            extra: ["--scope", "api offline_access"]
        )
    }

    func finish() async {
        await server.stop()
        await attacker.stop()
    }

    /// Edits of each authenticated column, and the SQL that restores it.
    static func edits(attackerURL: String, serverURL: String) -> [(edit: String, restore: String)] {
        [
            (
                "UPDATE account SET token_url = '\(attackerURL)' WHERE name = 'acme'",
                "UPDATE account SET token_url = '\(serverURL)' WHERE name = 'acme'"
            ),
            (
                "UPDATE account SET client_id = 'other-client' WHERE name = 'acme'",
                "UPDATE account SET client_id = '\(clientID)' WHERE name = 'acme'"
            ),
            (
                "UPDATE account SET mode = 'client-credentials' WHERE name = 'acme'",
                "UPDATE account SET mode = 'refresh-token' WHERE name = 'acme'"
            ),
            (
                "UPDATE account SET scopes = 'api' WHERE name = 'acme'",
                "UPDATE account SET scopes = 'api offline_access' WHERE name = 'acme'"
            ),
            (
                "UPDATE account SET scopes = NULL WHERE name = 'acme'",
                "UPDATE account SET scopes = 'api offline_access' WHERE name = 'acme'"
            ),
            (
                "UPDATE account SET generation = generation + 1 WHERE name = 'acme'",
                "UPDATE account SET generation = generation - 1 WHERE name = 'acme'"
            ),
        ]
    }

    @Test(
        "each edited column: token/refresh exit 65 before any request, verify names it, undoing it restores the account"
    )
    func editedColumns() async throws {
        for (edit, restore) in Self.edits(attackerURL: attacker.tokenURL, serverURL: server.tokenURL) {
            try await cli.tamper(edit)
            for command in [
                ["token", "acme"], ["token", "acme", "--header"], ["refresh", "acme"], ["refresh", "--all"],
            ] {
                let result = try await cli.vaultRun(command)
                expectFailure(result, 65)
                #expect(command[0] != "token" || result.stdout.isEmpty, "\(command) after \(edit):\n\(result)")
            }
            let verify = try await cli.vaultRun(["verify"])
            expectFailure(verify, 65)
            #expect(verify.stdout.contains("acme"), "verify does not name the account after \(edit):\n\(verify)")
            expectNoSecrets(verify, [Self.clientSecret])
            #expect(attacker.stats.tokenRequests == 0, "the attacker's endpoint was reached after \(edit)")
            #expect(server.stats.tokenRequests == 0, "a request was sent for a tampered record after \(edit)")

            try await cli.tamper(restore)
            try await cli.succeed(["verify"])
        }
        // Nothing was destroyed: the account refreshes once restored.
        let token = try await cli.succeed(["token", "acme"]).stdout.trimmingCharacters(in: .newlines)
        #expect(server.isAccessTokenValid(token))
        #expect(server.stats.refreshGrants == 1)
        #expect(attacker.stats.tokenRequests == 0)
        #expect(attacker.receivedAuthorizationHeaders.isEmpty)
        await finish()
    }

    @Test("downgrading the header to format 1 does not make an edited token URL acceptable")
    func downgrade() async throws {
        #expect(
            try await cli.tamper("SELECT format_version FROM vault_header").trimmingCharacters(in: .newlines) == "2"
        )
        try await cli.tamper(
            "UPDATE vault_header SET format_version = 1; UPDATE account SET token_url = '\(attacker.tokenURL)';"
        )
        expectFailure(try await cli.vaultRun(["token", "acme"]), 65)
        expectFailure(try await cli.vaultRun(["verify"]), 65)
        #expect(attacker.stats.tokenRequests == 0)
        #expect(server.stats.tokenRequests == 0)
        await finish()
    }

    @Test("a removed sealed value is an integrity failure (the set of fields is authenticated)")
    func removedValue() async throws {
        try await cli.succeed(["token", "acme"])  // now it holds an access token as well
        try await cli.tamper("UPDATE account SET access_token = NULL WHERE name = 'acme'")
        expectFailure(try await cli.vaultRun(["token", "acme"]), 65)
        expectFailure(try await cli.vaultRun(["show", "acme"]), 65)
        await finish()
    }

    @Test(
        "out-of-range stored integers are integrity failures, never a crash, and nothing is sent",
        arguments: [
            "UPDATE account SET generation = 9223372036854775807",
            "UPDATE account SET generation = -9223372036854775808",
            "UPDATE account SET generation = 0",
            "UPDATE account SET generation = 4611686018427387905",
            "UPDATE account SET generation = 4611686018427387904",
            "UPDATE account SET key_id = 4294967296",
            "UPDATE account SET access_token_expires_at = 1e308",
        ]
    )
    func outOfRange(sql: String) async throws {
        try await cli.tamper(sql)
        for command in [["token", "acme"], ["refresh", "acme"], ["refresh", "--all"], ["rotate-key"], ["list"]] {
            let result = try await cli.vaultRun(command)
            expectFailure(result, 65)
            #expect(!result.stderr.contains("Fatal error"), "\(command):\n\(result)")
        }
        #expect(server.stats.tokenRequests == 0)
        await finish()
    }
}
