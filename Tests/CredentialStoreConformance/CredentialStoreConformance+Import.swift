import CredentialVault
import Foundation
import TestSupport
import Testing

extension CredentialStoreConformance {
    static let importAllOrNothing = ConformanceCase(
        "import: one transaction — an existing name or a stale generation and nothing is written"
    ) { factory in
        let f = try await fixture(factory)
        try await add(f.vault, "acme")
        let before = try await f.store.accountRows()
        let fresh = try await rowOf(f, "fresh")
        let acmeRow = try #require(try await f.store.accountRow(named: "acme"))
        // An existing name not listed for replacement, after a new one: refused, the new one not written.
        await expectVaultError(.alreadyExists) {
            try await f.store.importAccounts([fresh, acmeRow], replacing: [:])
        }
        // A replacement whose expected generation moved on: refused, nothing written.
        var replacement = acmeRow
        replacement[.generation] = .integer(5)
        await expectVaultError(.conflict) {
            try await f.store.importAccounts([fresh, replacement], replacing: ["acme": 4])
        }
        // A row sealed under another key id: refused.
        var foreign = fresh
        foreign[.keyID] = .integer(99)
        await expectVaultError(.conflict) { try await f.store.importAccounts([foreign], replacing: [:]) }
        #expect(try await f.store.accountRows() == before)
        // The real thing: both written at once.
        try await f.store.importAccounts([fresh, replacement], replacing: ["acme": 1])
        #expect(Self.names(try await f.store.accountRows()) == ["acme", "fresh"])
        #expect(try await f.store.accountRow(named: "acme")?[.generation] == .integer(5))
    }

    static let importKeepsState = ConformanceCase(
        "import through the vault keeps status, times, backoff and generation; replacing needs replace"
    ) { factory in
        let f = try await fixture(factory)
        let old = try await add(f.vault, "acme")
        let at = Date(timeIntervalSince1970: 1_900_000_000)
        var backedUp = account("bolt")
        backedUp.status = .reauthRequired
        backedUp.lastError = "invalid_grant"
        backedUp.generation = 7
        backedUp.createdAt = at
        backedUp.updatedAt = at.addingTimeInterval(1)
        backedUp.refreshedAt = at.addingTimeInterval(2)
        backedUp.nextAttemptAt = at.addingTimeInterval(3)
        backedUp.accessTokenExpiresAt = at.addingTimeInterval(4)
        backedUp.consecutiveFailures = 3
        let entries = [
            ImportedAccount(
                account: backedUp,
                secrets: AccountSecrets(clientSecret: secret("s-bolt"), refreshToken: secret("rt-bolt"))
            ),
            ImportedAccount(account: account("acme"), secrets: AccountSecrets(clientSecret: secret("s-new"))),
        ]
        await expectVaultError(.alreadyExists) { try await f.vault.importAccounts(entries, replace: false) }
        #expect(Self.names(try await f.store.accountRows()) == ["acme"])
        await expectVaultError(.invalidInput) {
            try await f.vault.importAccounts([entries[0], entries[0]], replace: true)
        }

        let summary = try await f.vault.importAccounts(entries, replace: true)
        #expect(summary == ImportSummary(added: ["bolt"], replaced: ["acme"]))
        let (bolt, boltSecrets) = try await f.vault.openAccount(named: "bolt")
        var expected = backedUp
        expected.storedFields = [.clientSecret, .refreshToken]
        #expect(bolt == expected)
        #expect(boltSecrets.refreshToken?.unsafeStringValue() == "rt-bolt")
        let (acme, acmeSecrets) = try await f.vault.openAccount(named: "acme")
        #expect(acmeSecrets.clientSecret?.unsafeStringValue() == "s-new")
        #expect(acme.generation == old.generation + 1)
        // A writer holding the old generation cannot overwrite what was imported.
        await expectVaultError(.conflict) {
            try await f.vault.updateAccount(old, secrets: acmeSecrets, expectedGeneration: old.generation)
        }
    }

    /// A sealed row of a new account `name`, as the vault writes it, left out of the store.
    private static func rowOf(_ f: Fixture, _ name: AccountName) async throws -> AccountRow {
        try await add(f.vault, name)
        let row = try #require(try await f.store.accountRow(named: name))
        #expect(try await f.store.deleteAccount(named: name))
        return row
    }
}
