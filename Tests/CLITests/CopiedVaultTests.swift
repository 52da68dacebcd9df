import Foundation
import SendcloudTesting
import TestSupport
import Testing

/// Why two live copies of one vault must never both refresh (README, "Moving a vault"), tried as a new user would:
/// copy the vault file while nothing uses it, use each copy once, and Sendcloud's (Hydra's) reuse detection revokes
/// the tenant's whole token chain.
@Suite("a copied vault: two live copies that both refresh lose the tenant")
struct CopiedVaultTests {
    static let clientID = "copied-client"
    static let clientSecret = "copied-client-secret"

    @Test(
        "a copy (cp while idle) and the original each refresh once: the copy's refresh is reuse, then exit 80 on both"
    )
    func bothCopiesRefreshing() async throws {
        let cli = try CLIHarness()
        try await cli.initVault()
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { server in
            // Tokens shorter-lived than the CLI's 60 s margin: every `token` refreshes, as an hour later would.
            server.setAccessTokenLifetime(seconds: 30)
            let issued = try await cli.addRefreshAccount(
                "bolt",
                server: server,
                clientID: Self.clientID,
                secret: Self.clientSecret
            )
            // Rotates the refresh token once: both copies will hold the new one.
            try await cli.succeed(["token", "bolt"])
            #expect(!server.isRefreshTokenActive(issued))

            // The copy: `cp -p` of the one file, taken while idle (SQLite has checkpointed: no write-ahead log left).
            let original = cli.vault
            let sideFiles = try cli.vaultFiles().filter { $0.key.hasSuffix("-wal") && !$0.value.isEmpty }
            #expect(sideFiles.isEmpty, "the idle vault still has a write-ahead log: a cp of the file alone is partial")
            let copyDirectory = cli.root + "/copy"
            try FileManager.default.createDirectory(
                atPath: copyDirectory,
                withIntermediateDirectories: false,
                attributes: [.posixPermissions: 0o700]
            )
            let copy = copyDirectory + "/vault.sqlite"
            let copied = try await cli.launch("/bin/cp", ["-p", original, copy])
            try #require(copied.status == 0, "cp failed:\n\(copied)")
            func token(in vault: String) async throws -> CLIResult {
                try await cli.run(["token", "bolt", "--vault", vault], env: cli.keyEnv)
            }

            server.resetStats()
            let fromOriginal = try await token(in: original)
            try #require(fromOriginal.status == 0, "the original's refresh failed:\n\(fromOriginal)")
            let originalToken = fromOriginal.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(server.stats.refreshGrants == 1)
            #expect(server.isAccessTokenValid(originalToken))

            // The copy still holds the refresh token the original just rotated away: presenting it is reuse.
            let fromCopy = try await token(in: copy)
            expectFailure(fromCopy, 80)
            #expect(fromCopy.mentions("invalid_grant"), "the copy's failure does not name the grant:\n\(fromCopy)")
            #expect(server.stats.refreshGrants == 1)
            #expect(server.stats.invalidGrant == 1)
            #expect(
                !server.isAccessTokenValid(originalToken),
                "reuse detection did not revoke the chain: the original's fresh access token still works"
            )

            // The original, which did nothing wrong, has lost the tenant too: its refresh token is in the revoked chain.
            let originalAgain = try await token(in: original)
            expectFailure(originalAgain, 80)
            #expect(server.stats.refreshGrants == 1)
            #expect(server.stats.invalidGrant == 2)

            // Both are reauth-required now: exit 80 without contacting the server, until `login` on one of them.
            let requests = server.stats.tokenRequests
            for vault in [original, copy] {
                let result = try await token(in: vault)
                expectFailure(result, 80)
                let shown = try await cli.run(["show", "bolt", "--json", "--vault", vault], env: cli.keyEnv)
                #expect(shown.jsonObject?["status"] as? String == "reauth-required", "\(vault):\n\(shown)")
            }
            #expect(server.stats.tokenRequests == requests, "a reauth-required account contacted the server")
            for result in [fromOriginal, fromCopy, originalAgain] {
                expectNoSecrets(result, [Self.clientSecret, issued])
            }
        }
    }
}
