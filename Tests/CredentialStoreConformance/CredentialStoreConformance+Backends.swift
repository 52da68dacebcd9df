import CredentialVault
import Foundation
import Synchronization
import TestSupport
import Testing

// The clauses a backend relies on (DESIGN §7): the failure count beside the next attempt time, counts by status for
// a gauge, and single-use claims shared by every user of the storage.
extension CredentialStoreConformance {
    static let failureCount = ConformanceCase(
        "consecutive failures: 0 by default, round-trip, clamped when set, a stored value out of range is an integrity error"
    ) { factory in
        let f = try await fixture(factory)
        let added = try await add(f.vault, "acme")
        #expect(added.consecutiveFailures == 0)
        #expect(try await f.store.accountRow(named: "acme")?[.consecutiveFailures] == .integer(0))
        let (account, secrets) = try await f.vault.openAccount(named: "acme")
        var failing = account
        failing.consecutiveFailures = 3
        failing.nextAttemptAt = Date(timeIntervalSince1970: 1_900_000_600)
        try await f.vault.updateAccount(failing, secrets: secrets, expectedGeneration: account.generation)
        let reopened = try await CredentialVault.open(
            try await factory.sameStorage(f.store),
            with: .key(f.key),
            logger: logger
        )
        let stored = try await reopened.account(named: "acme")
        #expect(stored.consecutiveFailures == 3)
        #expect(stored.nextAttemptAt == Date(timeIntervalSince1970: 1_900_000_600))
        #expect(try await f.store.accountRow(named: "acme")?[.consecutiveFailures] == .integer(3))
        // Set out of range: clamped, so that every record written can be read back.
        var clamped = stored
        clamped.consecutiveFailures = Account.maximumConsecutiveFailures + 5
        #expect(clamped.consecutiveFailures == Account.maximumConsecutiveFailures)
        clamped.consecutiveFailures = -2
        #expect(clamped.consecutiveFailures == 0)
        #expect(
            Account(name: "x", mode: .basic, clientID: "c", tokenURL: "u", consecutiveFailures: -1)
                .consecutiveFailures == 0
        )
        // Not authenticated (scheduling data): a value in range written behind the vault's back is read as it is.
        try await factory.tamper(f.store, "acme", .consecutiveFailures, .integer(7))
        #expect(try await f.vault.openAccount(named: "acme").account.consecutiveFailures == 7)
        // NULL (a row from before the column existed) is 0.
        try await factory.tamper(f.store, "acme", .consecutiveFailures, .null)
        #expect(try await f.vault.account(named: "acme").consecutiveFailures == 0)
        // Out of range: the record is damaged.
        for value in [Int64(-1), Int64(Account.maximumConsecutiveFailures) + 1, .max] {
            try await factory.tamper(f.store, "acme", .consecutiveFailures, .integer(value))
            let error = await expectVaultError(.integrityFailure) { try await f.vault.account(named: "acme") }
            #expect(error?.message.contains("consecutive_failures") == true, "\(String(describing: error))")
            await expectVaultError(.integrityFailure) { try await f.vault.accounts() }
            #expect(try await f.vault.verify().isSound == false)
        }
    }

    static let statusCounts = ConformanceCase(
        "counts by status: ok, reauth-required, backing off and other, from the metadata alone"
    ) { factory in
        let (f, now) = try await dueFixture(factory)
        // The fixture: 9 accounts, one reauth-required, one backing off (next attempt after now), one whose next
        // attempt has passed.
        #expect(try await f.vault.accountCounts(now: now) == AccountCounts(ok: 7, reauthRequired: 1, backingOff: 1))
        // Backing off is relative to `now`.
        #expect(
            try await f.vault.accountCounts(now: now.addingTimeInterval(601))
                == AccountCounts(ok: 8, reauthRequired: 1, backingOff: 0)
        )
        #expect(
            try await f.vault.accountCounts(now: now.addingTimeInterval(-3600))
                == AccountCounts(ok: 6, reauthRequired: 1, backingOff: 2)
        )
        // A reauth-required account with a next attempt time counts as reauth-required only.
        let (reauth, secrets) = try await f.vault.openAccount(named: "reauth")
        var later = reauth
        later.nextAttemptAt = now.addingTimeInterval(900)
        try await f.vault.updateAccount(later, secrets: secrets, expectedGeneration: reauth.generation)
        #expect(try await f.vault.accountCounts(now: now) == AccountCounts(ok: 7, reauthRequired: 1, backingOff: 1))
        // A status this version does not know is `other`; a next attempt that is not a valid date is not backing off
        // (the due query selects such a row, so that the core reports it).
        try await factory.tamper(f.store, "fresh", .status, .text("suspended"))
        try await factory.tamper(f.store, "backing-off", .nextAttemptAt, .real(1e308))
        try await factory.tamper(f.store, "idle", .nextAttemptAt, .text("later"))
        let counts = try await f.vault.accountCounts(now: now)
        #expect(counts == AccountCounts(ok: 7, reauthRequired: 1, backingOff: 0, other: 1))
        #expect(counts.total == 9)
        // The store's groups: each at least one account, adding up to every account.
        let groups = try await f.store.accountStatusCounts(now: now)
        #expect(groups.allSatisfy { $0.count >= 1 })
        #expect(groups.map(\.count).reduce(0, +) == 9)
        #expect(Set(groups.map(\.status)) == [.text("ok"), .text("reauth-required"), .text("suspended")])
        // An empty vault.
        let empty = try await fixture(factory)
        #expect(try await empty.vault.accountCounts() == AccountCounts())
        #expect(try await empty.store.accountStatusCounts(now: now).isEmpty)
    }

    static let singleUse = ConformanceCase(
        "single use: the first claim wins, later ones lose through any handle; an expired claim no longer counts"
    ) { factory in
        let f = try await fixture(factory)
        let other = try await factory.sameStorage(f.store)
        let hour = Date().addingTimeInterval(3600)
        let key = Array("state-1".utf8)
        #expect(try await f.store.claimSingleUse(key, expiresAt: hour))
        #expect(try await f.store.claimSingleUse(key, expiresAt: hour) == false)
        #expect(try await other.claimSingleUse(key, expiresAt: hour.addingTimeInterval(3600)) == false)
        #expect(try await other.claimSingleUse(Array("state-2".utf8), expiresAt: hour))
        // A claim already expired when made is stored, and no longer counts: the next claim of its key wins (the
        // caller refuses an expired value before it claims).
        let past = Date().addingTimeInterval(-1)
        let stale = Array("state-stale".utf8)
        #expect(try await f.store.claimSingleUse(stale, expiresAt: past))
        #expect(try await other.claimSingleUse(stale, expiresAt: hour))
        #expect(try await f.store.claimSingleUse(stale, expiresAt: hour) == false)
        // Keys are bytes: any byte, compared exactly.
        #expect(try await f.store.claimSingleUse([0, 255, 0], expiresAt: hour))
        #expect(try await f.store.claimSingleUse([0, 255], expiresAt: hour))
        #expect(try await f.store.claimSingleUse([0, 255, 0], expiresAt: hour) == false)
        // Keys that no store should hold, dates that are no dates.
        await expectVaultError(.invalidInput) { try await f.store.claimSingleUse([], expiresAt: hour) }
        await expectVaultError(.invalidInput) {
            try await f.store.claimSingleUse([UInt8](repeating: 1, count: 1025), expiresAt: hour)
        }
        await expectVaultError(.invalidInput) {
            try await f.store.claimSingleUse([1], expiresAt: Date(timeIntervalSince1970: .infinity))
        }
        #expect(try await f.store.claimSingleUse([UInt8](repeating: 1, count: 1024), expiresAt: hour))
    }

    static let singleUseConcurrent = ConformanceCase(
        "single use: among many concurrent claims of one key through two handles, exactly one wins"
    ) { factory in
        let f = try await fixture(factory)
        let handles = [f.store, try await factory.sameStorage(f.store)]
        let expiresAt = Date().addingTimeInterval(3600)
        for round in 0..<6 {
            let key = Array("concurrent-\(round)".utf8)
            // Rounds 3 to 5 race over a claim that has expired (the upsert's other branch).
            if round >= 3 { #expect(try await f.store.claimSingleUse(key, expiresAt: Date().addingTimeInterval(-5))) }
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<32 {
                    let store = handles[index % 2]
                    group.addTask { try await store.claimSingleUse(key, expiresAt: expiresAt) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1, "round \(round): \(wins) winners")
        }
    }

    static let vaultSingleUse = ConformanceCase(
        "the vault's single-use claims are its own: bound to the vault id, kept past the expiry by the clock margin"
    ) { factory in
        let f = try await fixture(factory)
        let again = try await CredentialVault.open(
            try await factory.sameStorage(f.store),
            with: .key(f.key),
            logger: logger
        )
        let key = Array("login-state".utf8)
        let expiresAt = Date().addingTimeInterval(600)
        #expect(try await f.vault.claimSingleUse(key, until: expiresAt))
        #expect(try await f.vault.claimSingleUse(key, until: expiresAt) == false)
        #expect(try await again.claimSingleUse(key, until: expiresAt) == false)
        // The store holds the vault's hash of the key, not the key: the raw bytes are a different claim.
        #expect(try await f.store.claimSingleUse(key, expiresAt: expiresAt))
        // Expired by the caller's date but within the clock margin: still claimed.
        let justExpired = Array("just-expired".utf8)
        #expect(try await f.vault.claimSingleUse(justExpired, until: Date().addingTimeInterval(-10)))
        #expect(try await again.claimSingleUse(justExpired, until: Date().addingTimeInterval(600)) == false)
        await expectVaultError(.invalidInput) { try await f.vault.claimSingleUse([], until: expiresAt) }
    }
}
