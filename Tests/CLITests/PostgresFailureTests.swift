import Foundation
import SendcloudTesting
import TestSupport
import Testing

extension PostgresCLITests {
    /// Someone with SQL access edits the account table (DESIGN §3): the edit is an integrity failure (65) found before
    /// any request is sent.
    @Suite("Tampering with a PostgreSQL vault through SQL")
    struct Tampering {
        static let clientID = "pg-tamper-client"
        static let clientSecret = "pg-tamper-secret-VALUE-5"
        static let otherSecret = "pg-tamper-other-secret-VALUE-6"

        let pg: PostgresVault
        let fake: FakeSendcloud
        /// Stands in for the attacker: a second token endpoint that counts what reaches it.
        let attacker: FakeSendcloud

        init() async throws {
            pg = try PostgresVault()
            fake = try await FakeSendcloud.start(registering: [
                Self.clientID: Self.clientSecret, "other": Self.otherSecret,
            ])
            attacker = try await FakeSendcloud.start(registering: [
                Self.clientID: Self.clientSecret, "attacker-client": Self.clientSecret,
            ])
            try await pg.initVault()
            try await pg.addRefreshAccount(
                "acme",
                fake: fake,
                clientID: Self.clientID,
                secret: Self.clientSecret,
                extra: ["--scope", "api offline_access"]
            )
            try await pg.addRefreshAccount(
                "other",
                fake: fake,
                clientID: "other",
                secret: Self.otherSecret,
                extra: ["--scope", "api offline_access"]
            )
        }

        func finish() async {
            await fake.stop()
            await attacker.stop()
            await pg.dropSchema()
        }

        enum Edit: String, CaseIterable, Sendable, CustomTestStringConvertible {
            case tokenURL = "token URL"
            case clientID = "client id"
            case generation
            case mode
            case scopes
            case clientSecretFromOtherAccount = "client_secret copied from another account"
            case refreshTokenFromOtherAccount = "refresh_token copied from another account"

            var testDescription: String { rawValue }

            func sql(table: String, attackerURL: String) -> String {
                switch self {
                case .tokenURL: "UPDATE \(table) SET token_url = '\(attackerURL)' WHERE name = 'acme'"
                case .clientID: "UPDATE \(table) SET client_id = 'attacker-client' WHERE name = 'acme'"
                case .generation: "UPDATE \(table) SET generation = generation + 1 WHERE name = 'acme'"
                case .mode: "UPDATE \(table) SET mode = 'client-credentials' WHERE name = 'acme'"
                case .scopes: "UPDATE \(table) SET scopes = 'api' WHERE name = 'acme'"
                case .clientSecretFromOtherAccount:
                    "UPDATE \(table) SET client_secret = (SELECT client_secret FROM \(table) WHERE name = 'other') "
                        + "WHERE name = 'acme'"
                case .refreshTokenFromOtherAccount:
                    "UPDATE \(table) SET refresh_token = (SELECT refresh_token FROM \(table) WHERE name = 'other') "
                        + "WHERE name = 'acme'"
                }
            }
        }

        @Test(
            "an edit through psql: token and refresh exit 65, verify names the account, no request is sent",
            arguments: Edit.allCases
        )
        func edited(_ edit: Edit) async throws {
            let changed = try await pg.psql(
                edit.sql(table: pg.accountTable, attackerURL: attacker.tokenURL) + " RETURNING name"
            )
            try #require(changed == "acme", "the edit changed no row: \(changed)")
            for command in [["token", "acme"], ["token", "acme", "--header"], ["refresh", "acme"]] {
                // (`refresh --json` also prints its summary on stdout, so only `token` must leave stdout empty.)
                let result = try await pg.run(command + ["--json"])
                expectFailure(result, 65, json: command[0] == "token")
                #expect(result.jsonError?["code"] as? Int == 65, "\(result)")
                expectNoSecrets(result, [Self.clientSecret, Self.otherSecret, pg.server.password])
            }
            let verify = try await pg.run(["verify"])
            expectFailure(verify, 65)
            #expect(verify.mentions("acme"), "verify does not name the account:\n\(verify)")
            expectNoSecrets(verify, [Self.clientSecret, Self.otherSecret])
            #expect(fake.stats.tokenRequests == 0, "a request was sent for a tampered record")
            #expect(attacker.stats.tokenRequests == 0, "the attacker's endpoint was reached")
            // The other account is untouched and still works.
            let token = try await pg.succeed(["token", "other"]).stdout.trimmingCharacters(in: .newlines)
            #expect(fake.isAccessTokenValid(token))
            #expect(attacker.stats.tokenRequests == 0)
            await finish()
        }

        @Test("a whole row copied over another account's (all sealed values, same metadata but the name) → 65")
        func rowCopied() async throws {
            let table = pg.accountTable
            try await pg.psql(
                """
                UPDATE \(table) AS a SET client_id = o.client_id, client_secret = o.client_secret,
                    refresh_token = o.refresh_token, access_token = o.access_token, generation = o.generation,
                    key_id = o.key_id, scopes = o.scopes, token_url = o.token_url, mode = o.mode
                FROM \(table) AS o WHERE a.name = 'acme' AND o.name = 'other'
                """
            )
            expectFailure(try await pg.run(["token", "acme"]), 65)
            expectFailure(try await pg.run(["verify"]), 65)
            #expect(fake.stats.tokenRequests == 0)
            await finish()
        }
    }
}
