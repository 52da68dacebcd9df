import Foundation
import SendcloudTesting
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One refresh per tenant whatever path each process opens the vault by, and a data-key rotation that never
/// strands a refresh in flight (DESIGN §4 Locks).
@Suite("Locks across paths and rotation, end to end")
struct LockAcrossPathsTests {
    static let clientID = "lock-client"
    static let clientSecret = "lock-secret-VALUE-3"

    let cli: CLIHarness
    let server: FakeSendcloud

    init() async throws {
        cli = try CLIHarness()
        server = try await FakeSendcloud.start(registering: [Self.clientID: Self.clientSecret])
        try await cli.initVault()
        try await cli.addRefreshAccount("acme", server: server, clientID: Self.clientID, secret: Self.clientSecret)
    }

    @Test("refreshes through the vault's path, a symlink and a ./ path at once: no refresh token is spent twice")
    func symlinkAndOtherPaths() async throws {
        let symlink = cli.root + "/link.sqlite"
        try FileManager.default.createSymbolicLink(atPath: symlink, withDestinationPath: cli.vault)
        let dotted = (cli.vault as NSString).deletingLastPathComponent + "/./vault.sqlite"
        // Hold each refresh at the server so that the three processes overlap.
        server.injectFaults([.slow(seconds: 0.4), .slow(seconds: 0.4), .slow(seconds: 0.4)])
        async let a = cli.run(["refresh", "acme", "--vault", cli.vault], env: cli.keyEnv)
        async let b = cli.run(["refresh", "acme", "--vault", symlink], env: cli.keyEnv)
        async let c = cli.run(["refresh", "acme", "--vault", dotted], env: cli.keyEnv)
        for result in try await [a, b, c] {
            #expect(result.status == 0, "\(result)")
        }
        // They queue on one lock: the first refreshes, the others take its token (or refresh with the rotated one).
        #expect((1...3).contains(server.stats.refreshGrants))
        #expect(server.stats.invalidGrant == 0, "a refresh token was presented twice: the chain is revoked")
        let current = try #require(try await cli.reveal("acme")["refresh_token"] as? String)
        #expect(server.isRefreshTokenActive(current))
        await server.stop()
    }

    @Test("whatever is deleted beside the vault while a refresh is at the server, a second refresh waits for it")
    func deletionDuringRefresh() async throws {
        server.injectFaults([.slow(seconds: 1)])
        async let first = cli.run(["refresh", "acme", "--vault", cli.vault], env: cli.keyEnv)
        try await waitUntil { server.stats.tokenRequests == 1 }
        // An attacker, or a clean-up job, removes everything beside the vault that is not the vault (lock files, say).
        let folder = (cli.vault as NSString).deletingLastPathComponent
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where !name.hasPrefix("vault.sqlite") {
            try FileManager.default.removeItem(atPath: folder + "/" + name)
        }
        let second = try await cli.vaultRun(["refresh", "acme"])
        #expect(try await first.status == 0)
        #expect(second.status == 0, "\(second)")
        #expect(server.stats.invalidGrant == 0, "a refresh token was presented twice")
        await server.stop()
    }

    @Test("a hard link to the vault is refused (78) before anything is read or sent")
    func hardLinkRefused() async throws {
        let hardLink = (cli.vault as NSString).deletingLastPathComponent + "/same-vault.sqlite"
        #expect(link(cli.vault, hardLink) == 0)
        for path in [cli.vault, hardLink] {
            let result = try await cli.run(["token", "acme", "--vault", path], env: cli.keyEnv)
            expectFailure(result, 78)
            #expect(result.stderr.contains("hard link"), "\(result)")
        }
        #expect(server.stats.tokenRequests == 0)
        unlink(hardLink)
        try await cli.succeed(["token", "acme"])
        await server.stop()
    }

    @Test("rotate-key --drop-other-slots while a refresh is at the server: the rotated refresh token is kept")
    func rotationDuringRefresh() async throws {
        // The refreshing process unlocks with a second key, whose slot the rotation drops.
        let second = cli.root + "/second.key"
        try await cli.succeed(["key", "add", "--generate-key-file", second])
        server.injectFaults([.slow(seconds: 1.5)])
        async let refresh = cli.run(
            ["refresh", "acme", "--vault", cli.vault],
            env: ["SENDCLOUD_VAULT_KEY_FILE": second]
        )
        // Give the refresh time to take the account lock and reach the server, then rotate from another process.
        try await waitUntil { server.stats.tokenRequests == 1 }
        let rotation = try await cli.vaultRun(["rotate-key", "--drop-other-slots"])
        let refreshed = try await refresh
        #expect(refreshed.status == 0, "the refresh lost its write:\n\(refreshed)")
        #expect(rotation.status == 0, "\(rotation)")
        // The token chain is intact: the stored refresh token is the rotated one, and it works.
        let stored = try #require(try await cli.reveal("acme")["refresh_token"] as? String)
        #expect(server.isRefreshTokenActive(stored))
        try await cli.succeed(["refresh", "acme"])
        #expect(server.stats.invalidGrant == 0)
        try await cli.succeed(["verify"])
        await server.stop()
    }

    @Test("rotate-key gives up with 75 when an account's lock stays held past --lock-timeout, and changes nothing")
    func rotationWaitsForLocks() async throws {
        let keyIDs = {
            try await self.cli.succeed(["key", "list", "--json"]).jsonArray?.compactMap { $0["key_id"] as? Int }
        }
        let before = try await keyIDs()
        server.injectFaults([.slow(seconds: 3)])
        async let refresh = cli.run(["refresh", "acme", "--vault", cli.vault], env: cli.keyEnv)
        try await waitUntil { server.stats.tokenRequests == 1 }
        let rotation = try await cli.vaultRun(["rotate-key", "--lock-timeout", "500ms"])
        expectFailure(rotation, 75)
        #expect(rotation.stderr.contains("lock"), "\(rotation)")
        let refreshed = try await refresh
        #expect(refreshed.status == 0, "\(refreshed)")
        #expect(try await keyIDs() == before)
        await server.stop()
    }

    func waitUntil(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        try #require(condition(), "timed out waiting")
    }
}
