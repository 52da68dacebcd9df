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
    /// The store the vault reads and writes. Not public: everything goes through the vault, which decodes and
    /// authenticates what the store hands over.
    package let store: any CredentialStore
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
    let unlocked: Mutex<Unlocked>

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
            let made = try await Offload.run(expensive: source.needsKDF) {
                try SlotCipher.makeSlot(source, wrapping: dataKey, vaultID: vaultID)
            }
            if firstWrappingKey == nil { firstWrappingKey = made.wrappingKey }
            slots.append(made.slot)
        }
        let header = VaultHeader(
            vaultID: vaultID,
            formatVersion: VaultHeader.currentFormatVersion,
            keyID: dataKey.id,
            createdAt: Date(),
            location: store.storageLocation
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
                wrappingKey = try await Offload.run(expensive: secret.needsKDF) {
                    try SlotCipher.wrappingKey(for: slot, secret: secret)
                }
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

    /// A page of accounts, ordered by name in byte order: at most `limit`, those named after `after` (from the first
    /// when `nil`), each authenticated as by ``accounts()``. Page on with the last name returned; a page shorter
    /// than `limit` is the last. Listing any number of accounts this way takes memory for one page, not for all;
    /// the pages are not one snapshot (an account added meanwhile appears if its name comes later).
    public func accounts(after: AccountName?, limit: Int) async throws -> [Account] {
        let page = {
            try await self.store.accountRecordPage(after: after?.rawValue, limit: limit).records.map { try $0.get() }
        }
        var records = try await page()
        if records.contains(where: { $0.keyID != dataKey.id }), try await reloadKeyIfRotated() {
            records = try await page()
        }
        let key = dataKey
        return try records.map { record in
            try authenticate(record, with: key)
            return record.account
        }
    }

    /// One page of the accounts that `query` selects, *not authenticated*: for choosing which accounts to refresh,
    /// where a tampered row costs nothing because every refresh opens (and so authenticates) its record under the
    /// account's lock before anything is sent. The store answers from metadata alone, through an index, without
    /// reading a sealed value. A row that cannot be decoded is returned as its error; page on with `query.after` set
    /// to `next`, which is `nil` after the last page (the page is checked as an ``AccountPage``: a row whose name is
    /// not text cannot stop the paging, nor end up in two pages).
    public func dueAccounts(
        _ query: DueAccountQuery
    ) async throws -> (page: [Result<Account, VaultError>], next: String?) {
        let page = try AccountPage(try await store.dueAccountRows(query), after: query.after, limit: query.limit)
        return (page.rows.map { row in Result { () throws(VaultError) in try Account(metadataRow: row) } }, page.next)
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
    /// just the smallest (enough to authenticate the metadata). A record without any sealed value has nothing to
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
        // Every value is bound to the same metadata: to authenticate it, the smallest one is enough (the client
        // secret, not a 1 KiB access token).
        let order: [(key: SecretField, value: SealedValue)] =
            onlyOne
            ? record.sealed.min { ($0.value.bytes.count, $0.key.rawValue) < ($1.value.bytes.count, $1.key.rawValue) }
                .map { [$0] } ?? []
            : record.sealed.sorted { $0.key.rawValue < $1.key.rawValue }
        for (field, value) in order {
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
}
