import Foundation
public import Logging
import Synchronization

/// An unlocked vault: seals and opens account secrets and manages key slots over a ``CredentialStore``.
///
/// Every secret is sealed with XChaCha20-Poly1305 under a random data key, bound to the vault, account, field
/// and key id. The data key is never stored in clear: key slots wrap it (see ``KeySlot``).
///
/// ```swift
/// let store = try SQLiteCredentialStore(path: path, create: true)
/// let vault = try await CredentialVault.create(in: store, slots: [.passphrase(passphrase)], logger: logger)
/// try await vault.addAccount(account, secrets: AccountSecrets(clientSecret: secret))
/// ```
public final class CredentialVault: Sendable {
    /// The store the vault reads and writes.
    public let store: any CredentialStore
    /// The vault's random id.
    public let vaultID: [UInt8]
    let logger: Logger

    struct Unlocked: Sendable {
        var dataKey: DataKey
        /// The kind and wrapping key of the slot that opened the vault, so that rotation can rewrap under it.
        var slotKind: KeySlot.Kind
        var slotID: Int64
        var wrappingKey: SecureBytes
    }
    private let unlocked: Mutex<Unlocked>

    private init(store: any CredentialStore, vaultID: [UInt8], unlocked: Unlocked, logger: Logger) {
        self.store = store
        self.vaultID = vaultID
        self.unlocked = Mutex(unlocked)
        self.logger = logger
    }

    var dataKey: DataKey { unlocked.withLock { $0.dataKey } }

    // MARK: - Creating and opening

    /// At most this many slots of the secret's kind are tried when opening (each passphrase slot costs one KDF).
    public static let maximumSlotsTried = 16

    /// Creates a vault in an empty store with a new random data key wrapped under each of `slots` (at least one).
    /// The vault is returned unlocked by the first slot. Throws ``VaultError/Code/vaultExists`` if the store
    /// already holds a vault.
    public static func create(
        in store: any CredentialStore,
        slots newSlots: [NewKeySlot],
        logger: Logger
    ) async throws -> CredentialVault {
        guard !newSlots.isEmpty else { throw VaultError.invalid("a vault needs at least one key slot") }
        if try await store.header() != nil {
            throw VaultError(.vaultExists, "a vault exists already here")
        }
        let vaultID = Sodium.randomBytes(16)
        let dataKey = DataKey.generate(id: 1)
        var slots: [KeySlot] = []
        var firstWrappingKey: SecureBytes?
        for source in newSlots {
            let made = try await Offload.run { try SlotCipher.makeSlot(source, wrapping: dataKey, vaultID: vaultID) }
            if firstWrappingKey == nil { firstWrappingKey = made.wrappingKey }
            slots.append(made.slot)
        }
        let header = VaultHeader(
            vaultID: vaultID,
            formatVersion: VaultHeader.currentFormatVersion,
            keyID: dataKey.id,
            createdAt: Date()
        )
        try await store.createVault(header: header, slots: slots)
        let stored = try await store.slots()
        logger.info("vault created", metadata: ["slots": "\(slots.map(\.kind.name))"])
        return CredentialVault(
            store: store,
            vaultID: vaultID,
            unlocked: Unlocked(
                dataKey: dataKey,
                slotKind: slots[0].kind,
                slotID: stored.first?.id ?? 0,
                wrappingKey: firstWrappingKey!
            ),
            logger: logger
        )
    }

    /// Opens the vault in `store` with `secret`, trying each slot of the secret's kind. Throws
    /// ``VaultError/Code/noVault`` if the store holds no vault and ``VaultError/Code/wrongKey`` if no slot opens.
    /// Opening writes nothing.
    public static func open(
        _ store: any CredentialStore,
        with secret: UnlockSecret,
        logger: Logger
    ) async throws -> CredentialVault {
        guard let header = try await store.header() else {
            throw VaultError(.noVault, "no vault has been created here")
        }
        guard VaultHeader.supportedFormatVersions.contains(header.formatVersion) else {
            throw VaultError.integrity(
                "unsupported vault format version \(header.formatVersion) (this version of sendcloud-vault reads "
                    + "\(VaultHeader.supportedFormatVersions.lowerBound)...\(VaultHeader.currentFormatVersion))"
            )
        }
        guard header.vaultID.count == 16 else { throw VaultError.integrity("the vault id is malformed") }
        let candidates = try await store.slots().filter { SlotCipher.accepts($0, secret) && $0.keyID == header.keyID }
            .prefix(maximumSlotsTried)
        // A malformed slot (tampered limits, bad wrap) is skipped, not fatal: a later slot may still open.
        var damaged: VaultError?
        for slot in candidates {
            let wrappingKey: SecureBytes
            let opened: DataKey?
            do {
                wrappingKey = try await Offload.run { try SlotCipher.wrappingKey(for: slot, secret: secret) }
                opened = try SlotCipher.unwrap(slot, wrappingKey: wrappingKey, vaultID: header.vaultID)
            } catch let error as VaultError where error.code == .integrityFailure {
                logger.warning("skipped a damaged key slot", metadata: ["slot": "\(slot.id)"])
                damaged = damaged ?? error
                continue
            }
            if let key = opened {
                logger.debug("vault unlocked", metadata: ["slot": "\(slot.id)"])
                let vault = CredentialVault(
                    store: store,
                    vaultID: header.vaultID,
                    unlocked: Unlocked(
                        dataKey: key,
                        slotKind: slot.kind,
                        slotID: slot.id,
                        wrappingKey: wrappingKey
                    ),
                    logger: logger
                )
                if header.formatVersion < VaultHeader.currentFormatVersion {
                    logger.warning(
                        "vault in an old format: its records do not open until it is upgraded (verify --upgrade)",
                        metadata: ["format": "\(header.formatVersion)"]
                    )
                }
                return vault
            }
        }
        logger.notice("vault unlock failed", metadata: ["slots_tried": "\(candidates.count)"])
        if let damaged { throw damaged }
        let unreadable = try await checkedSlotRecords(store).filter { if case .failure = $0 { true } else { false } }
            .count
        if unreadable > 0 {
            throw VaultError.integrity(
                "no key slot opens the vault; \(unreadable) damaged key slot(s) were skipped (see 'key list')"
            )
        }
        throw VaultError.wrongKey()
    }

    // MARK: - Accounts

    /// Adds an account with its secrets; returns the stored metadata (generation 1).
    @discardableResult
    public func addAccount(_ account: Account, secrets: AccountSecrets) async throws -> Account {
        try Self.requireClientSecret(secrets, account.name)
        var account = account
        let now = Date()
        account.generation = 1
        account.createdAt = now
        account.updatedAt = now
        var record = seal(account, secrets)
        do {
            try await store.insert(record)
        } catch let error as VaultError where error.code == .conflict {
            // Another process rotated the data key: take the new one and seal again.
            guard try await reloadKeyIfRotated() else { throw error }
            record = seal(account, secrets)
            try await store.insert(record)
        }
        logger.info("account added", metadata: ["account": "\(account.name)", "mode": "\(account.mode.rawValue)"])
        return record.account
    }

    /// The metadata of `name`, authenticated (one sealed value is opened and wiped). Throws
    /// ``VaultError/Code/notFound`` or ``VaultError/Code/integrityFailure``.
    public func account(named name: AccountName) async throws -> Account {
        var record = try await storedAccount(named: name)
        if record.keyID != dataKey.id, try await reloadKeyIfRotated() {
            record = try await storedAccount(named: name)
        }
        try authenticate(record, with: dataKey)
        return record.account
    }

    /// The metadata and opened secrets of `name`. Throws ``VaultError/Code/notFound`` or
    /// ``VaultError/Code/integrityFailure``.
    public func openAccount(named name: AccountName) async throws -> (account: Account, secrets: AccountSecrets) {
        var record = try await storedAccount(named: name)
        if record.keyID != dataKey.id, try await reloadKeyIfRotated() {
            record = try await storedAccount(named: name)
        }
        return (record.account, try open(record))
    }

    /// The metadata of every account, ordered by name, each authenticated. Throws
    /// ``VaultError/Code/integrityFailure`` naming the first account whose record fails its check.
    public func accounts() async throws -> [Account] {
        var records = try await store.accounts()
        if records.contains(where: { $0.keyID != dataKey.id }), try await reloadKeyIfRotated() {
            records = try await store.accounts()
        }
        let key = dataKey
        return try records.map { record in
            try authenticate(record, with: key)
            return record.account
        }
    }

    /// The metadata of every account as stored, *not authenticated*: for choosing which accounts to refresh, where
    /// a tampered row costs nothing because every refresh opens (and so authenticates) its record under the
    /// account's lock before anything is sent. A row that cannot be decoded at all is returned as its error.
    public func accountsForScheduling() async throws -> [Result<Account, VaultError>] {
        try await store.accountRecords().map { $0.map(\.account) }
    }

    /// Writes `account` and `secrets` if the stored generation is still `expectedGeneration`, and returns the
    /// stored metadata with the next generation. Throws ``VaultError/Code/conflict`` if someone else wrote first.
    @discardableResult
    public func updateAccount(
        _ account: Account,
        secrets: AccountSecrets,
        expectedGeneration: Int64
    ) async throws -> Account {
        try Self.requireClientSecret(secrets, account.name)
        var account = account
        account.generation = try Self.nextGeneration(after: expectedGeneration, account.name)
        account.updatedAt = Date()
        let record = seal(account, secrets)
        do {
            try await store.update(record, expectedGeneration: expectedGeneration)
        } catch let error as VaultError where error.code == .conflict {
            // If the conflict is a data-key rotation by another process, load the new key so that the caller's
            // re-read (the rotation also bumped the generation) and retry work.
            _ = try await reloadKeyIfRotated()
            throw error
        }
        logger.debug(
            "account updated",
            metadata: ["account": "\(account.name)", "generation": "\(account.generation)"]
        )
        return record.account
    }

    /// Deletes `name`. Throws ``VaultError/Code/notFound`` if there is no such account.
    public func removeAccount(named name: AccountName) async throws {
        guard try await store.deleteAccount(named: name) else { throw VaultError.notFound(name) }
        logger.info("account removed", metadata: ["account": "\(name)"])
    }

    func storedAccount(named name: AccountName) async throws -> StoredAccount {
        guard let record = try await store.account(named: name) else { throw VaultError.notFound(name) }
        return record
    }

    func seal(_ account: Account, _ secrets: AccountSecrets, with key: DataKey? = nil) -> StoredAccount {
        let key = key ?? dataKey
        let fields = Set(SecretField.allCases.filter { secrets[$0] != nil })
        let metadata = AuthenticatedMetadata(account, fields: fields)
        var sealed: [SecretField: SealedValue] = [:]
        for field in fields {
            let context = SealingContext(
                vaultID: vaultID,
                keyID: key.id,
                account: account.name,
                field: field,
                metadata: metadata
            )
            sealed[field] = RecordCipher.seal(secrets[field]!, key: key, context: context)
        }
        return StoredAccount(account: account, keyID: key.id, sealed: sealed)
    }

    /// Opens `record`'s values. Values of format 1 (metadata not authenticated) open only with `acceptingLegacy`,
    /// which only ``upgradeFormat()`` and ``verify()`` use: nothing else ever trusts metadata it cannot check.
    func open(
        _ record: StoredAccount,
        with key: DataKey? = nil,
        acceptingLegacy: Bool = false
    ) throws(VaultError) -> AccountSecrets {
        try Self.open(record, key: key ?? dataKey, vaultID: vaultID, acceptingLegacy: acceptingLegacy)
    }

    /// Checks `record`'s metadata by opening one of its values (each binds all of it) and wiping the plaintext.
    func authenticate(_ record: StoredAccount, with key: DataKey) throws(VaultError) {
        _ = try Self.open(record, key: key, vaultID: vaultID, acceptingLegacy: false, onlyOne: true)
    }

    /// Opens the sealed values of `record` as the vault does (each bound to the record's metadata); with `onlyOne`,
    /// just the first (enough to authenticate the metadata). A record without any sealed value has nothing to
    /// authenticate its metadata with: every account stores at least its client secret, so such a row was tampered
    /// with (accepted only while legacy values are).
    package static func open(
        _ record: StoredAccount,
        key: DataKey,
        vaultID: [UInt8],
        acceptingLegacy legacy: Bool,
        onlyOne: Bool = false
    ) throws(VaultError) -> AccountSecrets {
        guard !record.sealed.isEmpty || legacy else {
            throw .integrity(
                "the record of '\(record.account.name)' holds no sealed value, so its metadata cannot be authenticated"
            )
        }
        let metadata = AuthenticatedMetadata(record.account, fields: Set(record.sealed.keys))
        var secrets = AccountSecrets()
        for (field, value) in record.sealed.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let context = SealingContext(
                vaultID: vaultID,
                keyID: record.keyID,
                account: record.account.name,
                field: field,
                metadata: metadata
            )
            secrets[field] = try RecordCipher.open(value, key: key, context: context, acceptingLegacy: legacy)
            if onlyOne { break }
        }
        return secrets
    }

    private static func requireClientSecret(_ secrets: AccountSecrets, _ name: AccountName) throws(VaultError) {
        guard secrets.clientSecret != nil else {
            throw .invalid("account '\(name)' needs its client secret (every mode uses it)")
        }
    }

    /// `generation + 1`, refusing a generation that a decoded record cannot have (``StoredAccount/maximumGeneration``).
    static func nextGeneration(after generation: Int64, _ name: AccountName) throws(VaultError) -> Int64 {
        guard (0..<StoredAccount.maximumGeneration).contains(generation) else {
            throw .integrity("the generation of '\(name)' is out of range")
        }
        return generation + 1
    }

    /// Another process may have rotated the data key (``rotateDataKey(dropOtherSlots:)``). If so, unwraps the new
    /// key with the wrapping key of the slot that opened this vault (rotation rewraps under the rotating process's
    /// slot) and returns `true`; returns `false` if the key is current. Throws ``VaultError/Code/wrongKey`` when no
    /// slot opens with this process's secret any more (it was dropped): unlock again.
    @discardableResult
    public func reloadKeyIfRotated() async throws -> Bool {
        guard let header = try await store.header() else { throw VaultError(.noVault, "the vault is gone") }
        let state = unlocked.withLock { $0 }
        guard header.keyID != state.dataKey.id else { return false }
        let candidates = try await store.slots().filter { $0.keyID == header.keyID && $0.kind == state.slotKind }
        for slot in candidates {
            if let key = try? SlotCipher.unwrap(slot, wrappingKey: state.wrappingKey, vaultID: vaultID) {
                unlocked.withLock {
                    $0.dataKey = key
                    $0.slotID = slot.id
                }
                logger.info("data key rotated by another process; loaded", metadata: ["key_id": "\(key.id)"])
                return true
            }
        }
        throw VaultError.wrongKey(
            "the data key was rotated and the slot this process unlocked with no longer opens it; unlock again"
        )
    }

    // MARK: - Verification

    /// One problem found by ``verify()``.
    public struct Problem: Sendable, CustomStringConvertible {
        /// The account concerned, if any.
        public var account: AccountName?
        /// What is wrong.
        public var message: String
        /// The kind of problem: ``VaultError/Code/unsafePermissions`` for permissions, else mostly
        /// ``VaultError/Code/integrityFailure``.
        public var code: VaultError.Code = .integrityFailure
        /// `account: message` or just the message.
        public var description: String { account.map { "\($0): \(message)" } ?? message }
    }

    /// Opens every sealed value of every account and checks every slot's key id; returns the problems found
    /// (empty when the vault is sound). Reads only.
    public func verify() async throws -> [Problem] {
        var problems = try await store.checkStorage().map {
            Problem(message: "storage: \($0.message)", code: $0.code)
        }
        let key = dataKey
        for result in try await Self.checkedSlotRecords(store) {
            switch result {
            case .success(let slot) where slot.keyID != key.id:
                problems.append(
                    Problem(message: "key slot \(slot.id) wraps key \(slot.keyID), not the current key \(key.id)")
                )
            case .success: break
            case .failure(let error): problems.append(Problem(message: error.message + " (skipped at unlock)"))
            }
        }
        if let header = try await store.header(), header.formatVersion < VaultHeader.currentFormatVersion {
            problems.append(
                Problem(
                    message: "the vault is still in format \(header.formatVersion) (metadata not authenticated): "
                        + "check its accounts' token URLs and client ids, then upgrade it (verify --upgrade)"
                )
            )
        }
        for result in try await store.accountRecords() {
            switch result {
            case .success(let record):
                do {
                    _ = try open(record, with: key, acceptingLegacy: true)
                    if record.sealed.values.contains(where: {
                        RecordCipher.version(of: $0) != SealedValue.formatVersion
                    }) {
                        problems.append(
                            Problem(
                                account: record.account.name,
                                message: "sealed in format 1: its mode, client id, token URL and scopes are not "
                                    + "authenticated, so it is not used; check them, then upgrade the vault "
                                    + "(sendcloud-vault verify --upgrade)"
                            )
                        )
                    }
                } catch {
                    problems.append(Problem(account: record.account.name, message: error.message))
                }
            case .failure(let error):
                problems.append(Problem(message: error.message))
            }
        }
        return problems
    }

    // MARK: - Key slots

    /// The key slots, ordered by id.
    public func slots() async throws -> [KeySlot] { try await store.slots() }

    /// Every key slot row, decoded or with the problem that makes it unusable (damaged slots are skipped at unlock).
    /// A slot row that decodes but is malformed (wrong length, out-of-bounds KDF limits) is reported as damaged too.
    public func slotRecords() async throws -> [Result<KeySlot, VaultError>] {
        try await Self.checkedSlotRecords(store)
    }

    static func checkedSlotRecords(_ store: any CredentialStore) async throws -> [Result<KeySlot, VaultError>] {
        try await store.slotRecords().map { record in
            record.flatMap { slot -> Result<KeySlot, VaultError> in
                do throws(VaultError) { try SlotCipher.validate(slot) } catch { return .failure(error) }
                return .success(slot)
            }
        }
    }

    /// The id of the slot that opened this vault.
    public var unlockedSlotID: Int64 { unlocked.withLock { $0.slotID } }

    /// Adds a slot wrapping the current data key. Records are untouched.
    @discardableResult
    public func addSlot(_ source: NewKeySlot) async throws -> KeySlot {
        let (key, vaultID) = (dataKey, vaultID)
        let made = try await Offload.run { try SlotCipher.makeSlot(source, wrapping: key, vaultID: vaultID) }
        let slot = try await store.addSlot(made.slot)
        logger.info("key slot added", metadata: ["slot": "\(slot.id)", "kind": "\(slot.kind.name)"])
        return slot
    }

    /// Removes slot `id`; the last slot cannot be removed. Records are untouched.
    public func removeSlot(id: Int64) async throws {
        try await store.removeSlot(id: id)
        logger.info("key slot removed", metadata: ["slot": "\(id)"])
    }

    /// Replaces a passphrase slot's passphrase: the slot that opened the vault if it is a passphrase slot, else
    /// the only passphrase slot. Rewraps the data key only.
    public func changePassphrase(to passphrase: SecureBytes, limits: KDFLimits = .interactive) async throws {
        let (openedBy, openedKind) = unlocked.withLock { ($0.slotID, $0.slotKind) }
        let passphraseSlots = try await store.slots().filter {
            if case .passphrase = $0.kind { return true } else { return false }
        }
        let target: KeySlot
        if case .passphrase = openedKind, let slot = passphraseSlots.first(where: { $0.id == openedBy }) {
            target = slot
        } else if passphraseSlots.count == 1 {
            target = passphraseSlots[0]
        } else {
            throw VaultError.invalid(
                passphraseSlots.isEmpty
                    ? "the vault has no passphrase slot; add one instead"
                    : "the vault has \(passphraseSlots.count) passphrase slots; unlock with the one to change"
            )
        }
        let (key, vaultID) = (dataKey, vaultID)
        var (replacement, wrappingKey) = try await Offload.run {
            try SlotCipher.makeSlot(.passphrase(passphrase, limits), wrapping: key, vaultID: vaultID)
        }
        replacement.id = target.id
        try await store.replaceSlot(replacement, expecting: target)
        if target.id == openedBy {
            unlocked.withLock {
                $0.slotKind = replacement.kind
                $0.wrappingKey = wrappingKey
            }
        }
        logger.info("passphrase changed", metadata: ["slot": "\(target.id)"])
    }

    /// Makes a new data key, reseals every record under it and rewraps it under the slot that opened the vault,
    /// all in one transaction. Other slots wrap the old key and cannot be rewrapped without their secrets, so
    /// they must be dropped explicitly (`dropOtherSlots`) and added again afterwards.
    ///
    /// Rotation runs under every account's lock (``CredentialStore/withEveryAccountLock(timeout:_:isolation:)``):
    /// it waits up to `lockTimeout` for refreshes in flight to commit — a refresh that has spent its refresh token
    /// at the server can always store the rotated one — and keeps new ones waiting until it has committed.
    public func rotateDataKey(dropOtherSlots: Bool, lockTimeout: Duration = .seconds(60)) async throws {
        let started = Mutex(false)
        do {
            try await store.withEveryAccountLock(timeout: lockTimeout) {
                started.withLock { $0 = true }
                try await self.rotateUnderEveryLock(dropOtherSlots: dropOtherSlots)
            }
        } catch let error as VaultError where error.code == .lockTimeout && !started.withLock({ $0 }) {
            throw VaultError(
                .lockTimeout,
                "an account's lock stayed held for \(lockTimeout) (a token refresh in flight?); nothing was "
                    + "rotated, run it again"
            )
        }
    }

    private func rotateUnderEveryLock(dropOtherSlots: Bool) async throws {
        let state = unlocked.withLock { $0 }
        let slots = try await store.slots()
        // Damaged slot rows count as other slots: rotation would drop them.
        let otherCount = try await store.slotRecords().count - (slots.contains { $0.id == state.slotID } ? 1 : 0)
        if otherCount > 0 && !dropOtherSlots {
            throw VaultError.invalid(
                "\(otherCount) other key slot(s) wrap the current key and would stop working; "
                    + "rotate with the option to drop them, then add them again"
            )
        }
        guard state.dataKey.id < UInt32.max else {
            throw VaultError.integrity("the data key id \(state.dataKey.id) cannot be incremented")
        }
        let newKey = DataKey.generate(id: state.dataKey.id + 1)
        var records: [StoredAccount] = []
        var expected: [AccountName: Int64] = [:]
        for record in try await store.accounts() {
            let secrets = try open(record, with: state.dataKey)
            var account = record.account
            expected[account.name] = account.generation
            account.generation = try Self.nextGeneration(after: account.generation, account.name)
            account.updatedAt = Date()
            records.append(seal(account, secrets, with: newKey))
        }
        let wrapped = SlotCipher.wrap(
            newKey,
            wrappingKey: state.wrappingKey,
            vaultID: vaultID,
            kind: state.slotKind,
            nonce: Sodium.randomBytes(Sodium.aeadNonceBytes)
        )
        let slot = KeySlot(
            id: state.slotID,
            kind: state.slotKind,
            keyID: newKey.id,
            wrappedKey: wrapped,
            createdAt: Date()
        )
        try await store.rotate(
            expectedKeyID: state.dataKey.id,
            newKeyID: newKey.id,
            expectedSlots: slots,
            slots: [slot],
            records: records,
            expectedGenerations: expected
        )
        let newSlotID = try await store.slots().first?.id ?? state.slotID
        unlocked.withLock {
            $0.dataKey = newKey
            $0.slotID = newSlotID
        }
        logger.info("data key rotated", metadata: ["key_id": "\(newKey.id)", "accounts": "\(records.count)"])
    }

    // MARK: - Format upgrade

    /// Upgrades a vault of an earlier format in place, on the caller's explicit request: reseals every record whose
    /// values predate metadata authentication (each then bound to its metadata as stored now, generation + 1), and —
    /// once every record is resealed — sets the header to the current format. One transaction; records that do not
    /// open are left as they are (``verify()`` reports them) and keep the header at the old format. Returns the
    /// metadata of the records resealed.
    ///
    /// The metadata of a format-1 record cannot be checked (that is what format 2 adds), so the upgrade is never
    /// automatic: whoever could write the file before could have changed a token URL, and an attacker holding an
    /// old copy could set a format-2 vault back to format 1 and plant its values. Until the upgrade, format-1 values
    /// do not open at all; the caller (the CLI's `verify --upgrade`) shows what it is about to authenticate.
    @discardableResult
    public func upgradeFormat() async throws -> [Account] {
        guard let header = try await store.header() else { throw VaultError(.noVault, "the vault is gone") }
        let key = dataKey
        var records: [StoredAccount] = []
        var expected: [AccountName: Int64] = [:]
        var damaged = 0
        let all = try await store.accountRecords()
        for result in all {
            guard case .success(let record) = result else {
                damaged += 1
                continue
            }
            guard record.sealed.values.contains(where: { RecordCipher.version(of: $0) != SealedValue.formatVersion })
            else { continue }
            do {
                let secrets = try open(record, with: key, acceptingLegacy: true)
                var account = record.account
                expected[account.name] = account.generation
                account.generation = try Self.nextGeneration(after: account.generation, account.name)
                account.updatedAt = Date()
                records.append(seal(account, secrets, with: key))
            } catch {
                logger.warning("record not upgraded: it does not open", metadata: ["account": "\(record.account.name)"])
                damaged += 1
            }
        }
        let complete = damaged == 0 && header.formatVersion < VaultHeader.currentFormatVersion
        guard !records.isEmpty || complete else { return [] }
        try await store.upgradeFormat(
            records: records,
            expectedGenerations: expected,
            formatVersion: complete ? VaultHeader.currentFormatVersion : nil,
            accountCount: all.count
        )
        logger.notice(
            "vault format upgraded",
            metadata: ["resealed": "\(records.count)", "left_damaged": "\(damaged)", "complete": "\(complete)"]
        )
        return records.map(\.account)
    }

    /// The vault's format version, as the header says now.
    public func formatVersion() async throws -> Int {
        guard let header = try await store.header() else { throw VaultError(.noVault, "the vault is gone") }
        return header.formatVersion
    }
}
