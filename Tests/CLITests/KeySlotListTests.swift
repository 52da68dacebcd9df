import Foundation
import TestSupport
import Testing

/// `key list` tells slots apart — label, kind, creation time, and for key files a non-secret fingerprint — and a
/// store writer cannot relabel a slot unnoticed; through the built binary.
@Suite("key list: labels and fingerprints")
struct KeySlotListTests {
    let cli: CLIHarness

    init() throws { cli = try CLIHarness() }

    @Test("key add --label: key list shows label, kind and the fingerprint key add printed (text and JSON)")
    func labelsAndFingerprints() async throws {
        try await cli.initVault()
        let laptop = cli.root + "/laptop.key"
        let added = try await cli.succeed(
            ["key", "add", "--generate-key-file", laptop, "--label", "laptop of Ana", "--json"]
        )
        let fingerprint = try #require(added.jsonObject?["fingerprint"] as? String)
        #expect(fingerprint.count == 16 && fingerprint.allSatisfy(\.isHexDigit))
        let passphrase = try cli.writeFile("pp", "a passphrase long enough")
        try await cli.succeed([
            "key", "add", "--passphrase", "--new-passphrase-file", passphrase, "--label", "break glass",
        ])

        let slots = try #require(try await cli.succeed(["key", "list", "--json"]).jsonArray)
        #expect(slots.count == 3)
        let byID = Dictionary(uniqueKeysWithValues: slots.map { ($0["id"] as? Int ?? 0, $0) })
        #expect(byID[2]?["label"] as? String == "laptop of Ana")
        #expect(byID[2]?["fingerprint"] as? String == fingerprint)
        #expect(byID[3]?["label"] as? String == "break glass")
        #expect(byID[3]?["fingerprint"] is NSNull, "a passphrase slot has no fingerprint")
        #expect(byID[1]?["unlocked_with"] as? Bool == true)
        #expect((byID[1]?["fingerprint"] as? String)?.count == 16, "init's key-file slot has one too")
        let text = try await cli.succeed(["key", "list"]).stdout
        #expect(text.contains("LABEL") && text.contains("FINGERPRINT"), "\(text)")
        #expect(text.contains("laptop of Ana") && text.contains(fingerprint) && text.contains("break glass"), "\(text)")
        // The fingerprint is the key's, not the slot's: unlocking with that file shows it as the slot used.
        let viaLaptop = try #require(
            try await cli.succeed(["key", "list", "--json"], env: ["SENDCLOUD_VAULT_KEY_FILE": laptop]).jsonArray
        )
        #expect(viaLaptop.first { $0["unlocked_with"] as? Bool == true }?["fingerprint"] as? String == fingerprint)
        // Rotation keeps the label and fingerprint of the slot it rewraps.
        try await cli.succeed(["rotate-key", "--drop-other-slots"], env: ["SENDCLOUD_VAULT_KEY_FILE": laptop])
        let rotated = try #require(
            try await cli.succeed(["key", "list", "--json"], env: ["SENDCLOUD_VAULT_KEY_FILE": laptop]).jsonArray
        )
        #expect(rotated.count == 1)
        #expect(rotated.first?["label"] as? String == "laptop of Ana")
        #expect(rotated.first?["fingerprint"] as? String == fingerprint)
        expectFailure(
            try await cli.vaultRun(["key", "add", "--passphrase", "--label", String(repeating: "x", count: 65)]),
            64
        )
        expectFailure(try await cli.vaultRun(["key", "add", "--passphrase", "--label", "bad\u{1b}[2J"]), 64)
    }

    @Test(
        "a label or fingerprint changed in the store breaks that slot (77 naming the key file); the others still open"
    )
    func relabelIsDetected() async throws {
        try await cli.initVault()
        let second = cli.root + "/second.key"
        try await cli.succeed(["key", "add", "--generate-key-file", second, "--label", "second"])
        try await cli.addAccount("acme", secret: "relabel-secret")
        for sql in [
            "UPDATE key_slot SET label = 'first' WHERE id = 2",
            "UPDATE key_slot SET label = NULL WHERE id = 2",
            "UPDATE key_slot SET fingerprint = '0000000000000000' WHERE id = 2",
        ] {
            let saved = try await cli.tamper("SELECT label || '|' || fingerprint FROM key_slot WHERE id = 2")
            try await cli.tamper(sql)
            let refused = try await cli.vaultRun(["list"], env: ["SENDCLOUD_VAULT_KEY_FILE": second])
            expectFailure(refused, 77)
            #expect(refused.stderr.contains("the key file \(second)"), "\(refused)")
            try await cli.succeed(["list"])  // slot 1 is untouched
            let parts = saved.trimmingCharacters(in: .newlines).split(separator: "|").map(String.init)
            try await cli.tamper("UPDATE key_slot SET label = '\(parts[0])', fingerprint = '\(parts[1])' WHERE id = 2")
            try await cli.succeed(["list"], env: ["SENDCLOUD_VAULT_KEY_FILE": second])
        }
    }
}
