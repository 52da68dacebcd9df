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
        guard header.formatVersion == VaultHeader.currentFormatVersion else {
            throw VaultError.integrity("unsupported vault format version \(header.formatVersion)")
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
                return CredentialVault(
                    store: store,
                    vaultID: header.vaultID,
                    unlocked: Unlocked(dataKey: key, slotKind: slot.kind, slotID: slot.id, wrappingKey: wrappingKey),
                    logger: logger
                )
            }
        }
        logger.notice("vault unlock failed", metadata: ["slots_tried": "\(candidates.count)"])
        throw damaged ?? VaultError.wrongKey()
    }

    // MARK: - Accounts

    /// Adds an account with its secrets; returns the stored metadata (generation 1).
    @discardableResult
    public func addAccount(_ account: Account, secrets: AccountSecrets) async throws -> Account {
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

    /// The metadata of `name`. Throws ``VaultError/Code/notFound``.
    public func account(named name: AccountName) async throws -> Account {
        try await storedAccount(named: name).account
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

    /// The metadata of every account, ordered by name.
    public func accounts() async throws -> [Account] {
        try await store.accounts().map(\.account)
    }

    /// Writes `account` and `secrets` if the stored generation is still `expectedGeneration`, and returns the
    /// stored metadata with the next generation. Throws ``VaultError/Code/conflict`` if someone else wrote first.
    @discardableResult
    public func updateAccount(
        _ account: Account,
        secrets: AccountSecrets,
        expectedGeneration: Int64
    ) async throws -> Account {
        var account = account
        account.generation = expectedGeneration + 1
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
        var sealed: [SecretField: SealedValue] = [:]
        for field in SecretField.allCases {
            if let value = secrets[field] {
                sealed[field] = RecordCipher.seal(value, key: key, context: context(account.name, field, key.id))
            }
        }
        return StoredAccount(account: account, keyID: key.id, sealed: sealed)
    }

    func open(_ record: StoredAccount, with key: DataKey? = nil) throws(VaultError) -> AccountSecrets {
        let key = key ?? dataKey
        var secrets = AccountSecrets()
        for (field, value) in record.sealed {
            secrets[field] = try RecordCipher.open(
                value,
                key: key,
                context: context(record.account.name, field, record.keyID)
            )
        }
        return secrets
    }

    private func context(_ name: AccountName, _ field: SecretField, _ keyID: UInt32) -> SealingContext {
        SealingContext(vaultID: vaultID, keyID: keyID, account: name, field: field)
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
        /// `account: message` or just the message.
        public var description: String { account.map { "\($0): \(message)" } ?? message }
    }

    /// Opens every sealed value of every account and checks every slot's key id; returns the problems found
    /// (empty when the vault is sound). Reads only.
    public func verify() async throws -> [Problem] {
        var problems = try await store.checkStorage().map { Problem(message: "storage: \($0)") }
        let key = dataKey
        for slot in try await store.slots() where slot.keyID != key.id {
            problems.append(
                Problem(message: "key slot \(slot.id) wraps key \(slot.keyID), not the current key \(key.id)")
            )
        }
        for result in try await store.accountRecords() {
            switch result {
            case .success(let record):
                do { _ = try open(record, with: key) } catch {
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
    public func rotateDataKey(dropOtherSlots: Bool) async throws {
        let state = unlocked.withLock { $0 }
        let slots = try await store.slots()
        let others = slots.filter { $0.id != state.slotID }
        if !others.isEmpty && !dropOtherSlots {
            throw VaultError.invalid(
                "\(others.count) other key slot(s) wrap the current key and would stop working; "
                    + "rotate with the option to drop them, then add them again"
            )
        }
        let newKey = DataKey.generate(id: state.dataKey.id &+ 1)
        var records: [StoredAccount] = []
        var expected: [AccountName: Int64] = [:]
        for record in try await store.accounts() {
            let secrets = try open(record, with: state.dataKey)
            var account = record.account
            expected[account.name] = account.generation
            account.generation += 1
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
}
