import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `verify`'s warning that a vault is opened away from where it was created (a copy, which must never refresh beside
/// the original), and `verify --record-location` after a deliberate move.
@Suite("the vault's recorded location")
struct VaultLocationTests {
    let cli: CLIHarness
    let secrets = ["cs-location-acme-5d1e", "cs-location-bolt-77a0", "rt-location-bolt-c3c3"]

    init() throws { cli = try CLIHarness() }

    /// A copy of the (idle: every process has exited, so SQLite has checkpointed its WAL) vault file in a new private
    /// folder.
    private func copyVault(to folder: String) throws -> String {
        let directory = cli.root + "/" + folder
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        chmod(directory, 0o700)
        let copy = directory + "/vault.sqlite"
        try FileManager.default.copyItem(atPath: cli.vault, toPath: copy)
        chmod(copy, 0o600)
        return copy
    }

    private func verify(_ vault: String, _ extra: [String] = []) async throws -> CLIResult {
        try await cli.run(["verify", "--vault", vault] + extra, env: cli.keyEnv.merging(cli.vaultEnvironment) { $1 })
    }

    @Test("a copy is verified with a warning naming both places (exit 0); the original and a symlink to it are not")
    func copyWarns() async throws {
        try await cli.seedTwoAccounts(secrets)
        let original = try await verify(cli.vault)
        #expect(original.status == 0 && !original.stdout.contains("warning:"), "\(original)")
        let link = cli.root + "/link.sqlite"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: cli.vault)
        let viaLink = try await verify(link)
        #expect(viaLink.status == 0 && !viaLink.stdout.contains("warning:"), "\(viaLink)")

        let copy = try copyVault(to: "copy")
        let copied = try await verify(copy)
        #expect(copied.status == 0, "\(copied)")
        #expect(copied.stdout.contains("warning: this vault was created at "), "\(copied)")
        #expect(copied.stdout.contains("but is opened at \(copy)"), "\(copied)")
        #expect(copied.stdout.contains("only one of the two may ever refresh tokens"))
        let json = try await verify(copy, ["--json"])
        #expect(json.status == 0)
        #expect((json.jsonObject?["warnings"] as? [String])?.count == 1, "\(json)")
        expectNoSecrets(copied, secrets)
    }

    @Test("verify --record-location adopts a moved vault: no warning there afterwards")
    func recordLocation() async throws {
        try await cli.seedTwoAccounts(secrets)
        let moved = try copyVault(to: "moved")
        try FileManager.default.removeItem(atPath: cli.vault)
        let adopted = try await verify(moved, ["--record-location"])
        #expect(adopted.status == 0, "\(adopted)")
        #expect(adopted.stdout.contains("recorded the vault's location: \(moved)"), "\(adopted)")
        #expect(!adopted.stdout.contains("warning:"), "\(adopted)")
        let again = try await verify(moved)
        #expect(again.status == 0 && !again.stdout.contains("warning:"), "\(again)")
    }

    @Test("a vault without a recorded location (made by an earlier version) gets a hint, not a failure")
    func unrecorded() async throws {
        try await cli.seedTwoAccounts(secrets)
        try await cli.tamper("UPDATE vault_header SET location = NULL")
        let result = try await verify(cli.vault)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("warning: the vault's location is not recorded"), "\(result)")
        #expect(result.stdout.contains("'verify --record-location' records"), "\(result)")
    }
}
