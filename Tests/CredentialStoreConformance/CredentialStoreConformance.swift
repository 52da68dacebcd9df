import CredentialVault
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

/// The behavioural test suite every ``CredentialStore`` passes: the same functions, run against each store by a
/// parameterised test in that store's test target:
///
/// ```swift
/// @Test(arguments: CredentialStoreConformance.cases)
/// func conformance(_ check: ConformanceCase) async throws { try await check.run(factory) }
/// ```
public enum CredentialStoreConformance {
    /// Every case.
    public static let cases: [ConformanceCase] = [
        roundTrip, compareAndSwap, keyIDConflict, rotation, slots, locksAcrossTasks, locksAcrossHandles,
        lockBodyUsesStore, tamper, dueAccounts, duePaging, accountPaging, failureCount, statusCounts, singleUse,
        singleUseConcurrent,
        vaultSingleUse, importAllOrNothing, importKeepsState,
    ]

    static let logger = Logger(label: "conformance") { _ in SwiftLogNoOpLogHandler() }

    struct Fixture {
        let store: any CredentialStore
        let vault: CredentialVault
        let key: KeyFileKey
    }

    static func fixture(_ factory: StoreFactory) async throws -> Fixture {
        let store = try await factory.makeStore()
        let key = KeyFileKey.generate()
        let vault = try await CredentialVault.create(in: store, slots: [.key(key)], logger: logger)
        return Fixture(store: store, vault: vault, key: key)
    }

    static func secret(_ text: String) -> SecureBytes { SecureBytes(utf8: text) }

    static func account(_ name: AccountName, _ mode: AccountMode = .refreshToken) -> Account {
        Account(
            name: name,
            mode: mode,
            clientID: "client-\(name)",
            scopes: "api",
            tokenURL: "https://account.sendcloud.com/oauth2/token"
        )
    }

    @discardableResult
    static func add(
        _ vault: CredentialVault,
        _ name: AccountName,
        _ mode: AccountMode = .refreshToken
    ) async throws
        -> Account
    {
        try await vault.addAccount(
            account(name, mode),
            secrets: AccountSecrets(
                clientSecret: secret("secret-\(name)"),
                refreshToken: mode == .refreshToken ? secret("rt-\(name)") : nil,
                accessToken: mode == .basic ? nil : secret("at-\(name)")
            )
        )
    }

    // MARK: - Cases

    static let roundTrip = ConformanceCase("rows round-trip: every mode and field, ordered by name, deleted for good") {
        factory in
        let f = try await fixture(factory)
        for (name, mode) in [("zeta", AccountMode.basic), ("alpha", .refreshToken), ("mid", .clientCredentials)] {
            try await add(f.vault, AccountName(name), mode)
        }
        #expect(try await f.vault.accounts().map(\.name) == ["alpha", "mid", "zeta"])
        let (alpha, secrets) = try await f.vault.openAccount(named: "alpha")
        #expect(alpha.generation == 1 && alpha.storedFields == [.clientSecret, .refreshToken, .accessToken])
        #expect(secrets.refreshToken?.unsafeStringValue() == "rt-alpha")
        let reopened = try await CredentialVault.open(
            try await factory.sameStorage(f.store),
            with: .key(f.key),
            logger: logger
        )
        #expect(
            try await reopened.openAccount(named: "zeta").secrets.clientSecret?.unsafeStringValue() == "secret-zeta"
        )
        try await f.vault.removeAccount(named: "mid")
        await expectVaultError(.notFound) { try await f.vault.account(named: "mid") }
        await expectVaultError(.notFound) { try await f.vault.removeAccount(named: "mid") }
        #expect(try await f.store.accountRows().count == 2)
        await expectVaultError(.vaultExists) {
            try await CredentialVault.create(in: f.store, slots: [.key(KeyFileKey.generate())], logger: logger)
        }
    }

    static let compareAndSwap = ConformanceCase("writes are compare-and-swap on the generation; names are unique") {
        factory in
        let f = try await fixture(factory)
        let first = try await add(f.vault, "acme")
        let (account, secrets) = try await f.vault.openAccount(named: "acme")
        var changed = account
        changed.lastError = "first writer"
        let written = try await f.vault.updateAccount(changed, secrets: secrets, expectedGeneration: first.generation)
        #expect(written.generation == first.generation + 1)
        changed.lastError = "stale writer"
        await expectVaultError(.conflict) {
            try await f.vault.updateAccount(changed, secrets: secrets, expectedGeneration: first.generation)
        }
        #expect(try await f.vault.account(named: "acme").lastError == "first writer")
        await expectVaultError(.alreadyExists) { try await add(f.vault, "acme") }
        var ghost = account
        ghost.name = "ghost"
        await expectVaultError(.notFound) {
            try await f.vault.updateAccount(ghost, secrets: secrets, expectedGeneration: 1)
        }
    }

    static let keyIDConflict = ConformanceCase("a row sealed under another key id is refused as a conflict") {
        factory in
        let f = try await fixture(factory)
        try await add(f.vault, "acme")
        var row = try #require(try await f.store.accountRow(named: "acme"))
        let before = row
        row[.keyID] = .integer(99)
        row[.generation] = .integer(2)
        await expectVaultError(.conflict) { try await f.store.update(row, expectedGeneration: 1) }
        row[.name] = .text("other")
        await expectVaultError(.conflict) { try await f.store.insert(row) }
        #expect(try await f.store.accountRow(named: "acme") == before)
        #expect(try await f.store.accountRow(named: "other") == nil)
    }

    static let rotation = ConformanceCase("rotation: one transaction, compare-and-swap on key id, slots and accounts") {
        factory in
        let f = try await fixture(factory)
        try await add(f.vault, "acme")
        try await add(f.vault, "bolt", .clientCredentials)
        let header = try #require(try await f.store.headerRow())
        let slots = try await f.store.slotRows()
        let rows = try await f.store.accountRows()
        var bumped = rows
        for index in bumped.indices { bumped[index][.generation] = .integer(2) }
        let generations: [AccountName: Int64] = ["acme": 1, "bolt": 1]
        // Stale slots, a missing account, a stale key id: each refused, nothing changed.
        await expectVaultError(.conflict) {
            try await f.store.rotate(
                expectedKeyID: 1,
                newKeyID: 2,
                expectedSlots: [],
                slots: slots,
                rows: bumped,
                expectedGenerations: generations
            )
        }
        await expectVaultError(.conflict) {
            try await f.store.rotate(
                expectedKeyID: 1,
                newKeyID: 2,
                expectedSlots: slots,
                slots: slots,
                rows: [bumped[0]],
                expectedGenerations: generations
            )
        }
        await expectVaultError(.conflict) {
            try await f.store.rotate(
                expectedKeyID: 7,
                newKeyID: 8,
                expectedSlots: slots,
                slots: slots,
                rows: bumped,
                expectedGenerations: generations
            )
        }
        #expect(try await f.store.headerRow() == header)
        #expect(try await f.store.accountRows() == rows)
        // The real thing: every record resealed under key 2, opened by a new unlock.
        try await f.vault.rotateDataKey(dropOtherSlots: false)
        let after = try #require(try await f.store.headerRow())
        #expect(after[.keyID] == .integer(2))
        #expect(try await f.store.accountRows().allSatisfy { $0[.keyID] == .integer(2) })
        let reopened = try await CredentialVault.open(f.store, with: .key(f.key), logger: logger)
        #expect(
            try await reopened.openAccount(named: "bolt").secrets.clientSecret?.unsafeStringValue() == "secret-bolt"
        )
    }

    static let slots = ConformanceCase("slots: added, replaced and removed by compare-and-swap; never the last one") {
        factory in
        let f = try await fixture(factory)
        let only = try #require(try await f.vault.slots().first)
        await expectVaultError(.invalidInput) { try await f.vault.removeSlot(id: only.id) }
        let second = try await f.vault.addSlot(.key(KeyFileKey.generate()))
        #expect(second.id != only.id)
        #expect(try await f.store.slotRows().count == 2)
        let rows = try await f.store.slotRows()
        await expectVaultError(.conflict) { try await f.store.removeSlot(id: second.id, expectedSlots: [rows[0]]) }
        await expectVaultError(.conflict) {
            try await f.store.replaceSlot(id: second.id, with: rows[1], expectedWrappedKey: .blob([1, 2, 3]))
        }
        var foreign = rows[1]
        foreign[.keyID] = .integer(42)
        await expectVaultError(.conflict) { try await f.store.addSlot(foreign) }
        await expectVaultError(.notFound) { try await f.store.removeSlot(id: 9999, expectedSlots: rows) }
        try await f.vault.removeSlot(id: second.id)
        #expect(try await f.store.slotRows() == [rows[0]])
    }

    static let locksAcrossTasks = ConformanceCase(
        "account lock: exclusive per account across tasks, times out, released on throw; every-account lock waits"
    ) { factory in
        let f = try await fixture(factory)
        let store = f.store
        let (entered, enteredContinuation) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        let holder = Task {
            try await store.withAccountLock("acme", timeout: .seconds(30)) {
                enteredContinuation.yield()
                for await _ in release { break }
            }
        }
        for await _ in entered { break }
        await expectVaultError(.lockTimeout) {
            try await store.withAccountLock("acme", timeout: .milliseconds(200)) { () }
        }
        // Another account is not blocked.
        #expect(try await store.withAccountLock("bolt", timeout: .seconds(5)) { 7 } == 7)
        await expectVaultError(.lockTimeout) {
            try await store.withEveryAccountLock(timeout: .milliseconds(200)) { () }
        }
        releaseContinuation.yield()
        try await holder.value
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await store.withAccountLock("acme", timeout: .seconds(5)) { throw Boom() }
        }
        #expect(try await store.withAccountLock("acme", timeout: .seconds(5)) { 1 } == 1)
        // Held every-account lock keeps account lockers out.
        let inside = Mutex(0)
        try await store.withEveryAccountLock(timeout: .seconds(5)) {
            _ = await expectVaultError(.lockTimeout) {
                try await store.withAccountLock("acme", timeout: .milliseconds(200)) { inside.withLock { $0 += 1 } }
            }
        }
        #expect(inside.withLock { $0 } == 0)
        // Many tasks take turns: never two inside at once. Polling waiters are not served in order: the timeout is
        // generous, so that a slow machine (or TSan) only makes the test slower, never wrong.
        final class Occupancy: Sendable {
            let value = Mutex((now: 0, most: 0))
        }
        let occupancy = Occupancy()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    try await store.withAccountLock("acme", timeout: .seconds(120)) {
                        occupancy.value.withLock {
                            $0.now += 1
                            $0.most = max($0.most, $0.now)
                        }
                        try await Task.sleep(for: .milliseconds(5))
                        occupancy.value.withLock { $0.now -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(occupancy.value.withLock { $0.most } == 1)
    }

    static let locksAcrossHandles = ConformanceCase("account lock: held through one handle, respected through another")
    {
        factory in
        let f = try await fixture(factory)
        let other = try await factory.sameStorage(f.store)
        try await f.store.withAccountLock("acme", timeout: .seconds(5)) {
            await expectVaultError(.lockTimeout) {
                try await other.withAccountLock("acme", timeout: .milliseconds(200)) { () }
            }
            let otherAccount = try await other.withAccountLock("bolt", timeout: .seconds(5)) { true }
            #expect(otherAccount)
        }
        #expect(try await other.withAccountLock("acme", timeout: .seconds(5)) { true })
    }

    static let lockBodyUsesStore = ConformanceCase("the lock's body may call any store method") { factory in
        let f = try await fixture(factory)
        try await add(f.vault, "acme")
        let updated = try await f.vault.withAccountLock("acme", timeout: .seconds(5)) {
            let (account, secrets) = try await f.vault.openAccount(named: "acme")
            var changed = account
            changed.refreshedAt = Date(timeIntervalSince1970: 1_900_000_000)
            return try await f.vault.updateAccount(changed, secrets: secrets, expectedGeneration: account.generation)
        }
        let stored = try await f.vault.account(named: "acme")
        #expect(stored.generation == updated.generation && stored.generation == 2)
        #expect(stored.refreshedAt == Date(timeIntervalSince1970: 1_900_000_000))
    }

    static let tamper = ConformanceCase("a tampered row is an integrity error, for reads, opens and verify") {
        factory in
        let cases: [(AccountColumn, StoreValue)] = [
            (.tokenURL, .text("https://evil.example/token")), (.clientID, .text("someone-else")),
            (.mode, .text("client-credentials")), (.scopes, .text("api admin")), (.generation, .text("one")),
            (.generation, .integer(Int64.max)), (.keyID, .integer(1 << 40)), (.accessTokenExpiresAt, .real(1e308)),
            (.accessTokenExpiresAt, .text("soon")), (.status, .integer(1)), (.clientSecret, .text("plain")),
            (.name, .integer(5)), (.consecutiveFailures, .integer(-1)),
        ]
        for (column, value) in cases {
            let f = try await fixture(factory)
            try await add(f.vault, "acme")
            try await add(f.vault, "bolt")
            try await factory.tamper(f.store, "acme", column, value)
            let reading = "\(column.rawValue) = \(value)"
            if column != .name {
                await expectVaultError(.integrityFailure) { try await f.vault.openAccount(named: "acme") }
                await expectVaultError(.integrityFailure) { try await f.vault.account(named: "acme") }
            }
            await expectVaultError(.integrityFailure) { try await f.vault.accounts() }
            let report = try await f.vault.verify()
            #expect(!report.isSound && report.accountCount == 2, "\(reading)")
            // The other account is untouched.
            #expect(try await f.vault.openAccount(named: "bolt").secrets.refreshToken?.unsafeStringValue() == "rt-bolt")
        }
    }

    static func dueFixture(_ factory: StoreFactory) async throws -> (Fixture, now: Date) {
        let f = try await fixture(factory)
        let now = Date(timeIntervalSince1970: 1_900_000_000)
        // name: (mode, expiry offset, status, next attempt offset, refreshed offset)
        let plan: [(String, AccountMode, Double?, AccountStatus, Double?, Double?)] = [
            ("expiring", .refreshToken, 60, .ok, nil, -100),
            ("fresh", .refreshToken, 3600, .ok, nil, -100),
            ("no-token", .clientCredentials, nil, .ok, nil, nil),
            ("basic", .basic, nil, .ok, nil, nil),
            ("reauth", .refreshToken, 60, .reauthRequired, nil, -100),
            ("backing-off", .refreshToken, 60, .ok, 600, -100),
            ("backed-off", .refreshToken, 60, .ok, -1, -100),
            ("idle", .refreshToken, 3600, .ok, nil, -8 * 86400),
            ("idle-cc", .clientCredentials, 3600, .ok, nil, -8 * 86400),
        ]
        for (name, mode, expiry, status, next, refreshed) in plan {
            let account = try await add(f.vault, AccountName(name), mode)
            let (stored, secrets) = try await f.vault.openAccount(named: account.name)
            var changed = stored
            changed.accessTokenExpiresAt = expiry.map { now.addingTimeInterval($0) }
            changed.status = status
            changed.nextAttemptAt = next.map { now.addingTimeInterval($0) }
            changed.refreshedAt = refreshed.map { now.addingTimeInterval($0) }
            try await f.vault.updateAccount(changed, secrets: secrets, expectedGeneration: stored.generation)
        }
        return (f, now)
    }

    static func names(_ rows: [AccountRow]) -> [String] { rows.compactMap { $0[.name].text } }

    static let dueAccounts = ConformanceCase(
        "due accounts: expiring, not basic, ok, past their next attempt; keep-alive; force; no sealed value read"
    ) { factory in
        let (f, now) = try await dueFixture(factory)
        let window = DueAccountQuery(expiringBefore: now.addingTimeInterval(300), now: now)
        let due = try await f.store.dueAccountRows(window)
        #expect(names(due) == ["backed-off", "expiring", "no-token"])
        #expect(due.allSatisfy { row in AccountColumn.sealed.allSatisfy { row[$0] == .null } })
        #expect(due.allSatisfy { $0[.generation] == .integer(2) })
        var keepAlive = window
        keepAlive.refreshedBefore = now.addingTimeInterval(-7 * 86400)
        #expect(names(try await f.store.dueAccountRows(keepAlive)) == ["backed-off", "expiring", "idle", "no-token"])
        var force = window
        force.everyTokenAccount = true
        #expect(
            names(try await f.store.dueAccountRows(force)) == [
                "backed-off", "backing-off", "expiring", "fresh", "idle", "idle-cc", "no-token", "reauth",
            ]
        )
        // The vault decodes the page.
        let (page, next) = try await f.vault.dueAccounts(window)
        #expect(page.compactMap { try? $0.get().name.rawValue } == ["backed-off", "expiring", "no-token"])
        #expect(next == nil, "a page shorter than the limit is the last")
        // An expiry that is not a valid date is selected, so that the core reports the row instead of skipping it.
        try await factory.tamper(f.store, "fresh", .accessTokenExpiresAt, .real(1e308))
        let damaged = try await f.vault.dueAccounts(window).page
        #expect(damaged.count == 4)
        #expect(
            damaged.contains { if case .failure(let error) = $0 { error.code == .integrityFailure } else { false } }
        )
        // So is an expiring account whose status or next attempt time is not a valid value (text sorts after
        // numbers in SQL): the core reports it.
        try await factory.tamper(f.store, "expiring", .status, .text("weird"))
        try await factory.tamper(f.store, "backed-off", .nextAttemptAt, .text("later"))
        let reported = try await f.vault.dueAccounts(window).page
        #expect(reported.count == 4)
        let failures = reported.filter { if case .failure = $0 { true } else { false } }
        #expect(failures.count == 3, "\(reported)")
        // A limit below 1 is clamped, whoever sets it.
        var tiny = window
        tiny.limit = -1
        #expect(try await f.store.dueAccountRows(tiny).count == 1)
    }

    static let accountPaging = ConformanceCase("every account pages by name in byte order, each page authenticated") {
        factory in
        let f = try await fixture(factory)
        // Byte order, not a locale's: "B" < "a" < "a-b" < "a_b" < "ab".
        let names: [AccountName] = ["ab", "a_b", "B", "a-b", "a", "zz"]
        for (index, name) in names.enumerated() {
            try await add(f.vault, name, [AccountMode.basic, .refreshToken, .clientCredentials][index % 3])
        }
        var seen: [AccountName] = []
        var after: AccountName?
        var pages = 0
        while true {
            let page = try await f.vault.accounts(after: after, limit: 4)
            pages += 1
            seen += page.map(\.name)
            guard page.count == 4, let last = page.last else { break }
            after = last.name
        }
        #expect(seen == ["B", "a", "a-b", "a_b", "ab", "zz"])
        #expect(seen == (try await f.vault.accounts()).map(\.name))
        #expect(pages == 2)
        #expect(try await f.store.accountRows(after: "zz", limit: 10).isEmpty)
        #expect(try await f.store.accountRows(after: nil, limit: 0).isEmpty)
        #expect(try await f.store.accountRows(after: "a-b", limit: 1).map { $0[.name].text } == ["a_b"])
        // A page holds every column: the sealed values come along (each account's metadata is authenticated).
        let rows = try await f.store.accountRows(after: nil, limit: 10)
        #expect(rows.allSatisfy { $0[.clientSecret] != .null })
    }

    static let duePaging = ConformanceCase("due accounts page by name: every page in order, none twice") { factory in
        let (f, now) = try await dueFixture(factory)
        var query = DueAccountQuery(
            expiringBefore: now.addingTimeInterval(300),
            now: now,
            everyTokenAccount: true,
            limit: 3
        )
        var seen: [String] = []
        var pages = 0
        while true {
            let page = try await f.store.dueAccountRows(query)
            #expect(page.count <= 3)
            seen += names(page)
            pages += 1
            guard page.count == query.limit, let last = page.last?[.name].text else { break }
            query.after = last
        }
        #expect(seen == ["backed-off", "backing-off", "expiring", "fresh", "idle", "idle-cc", "no-token", "reauth"])
        #expect(pages == 3)
    }
}
