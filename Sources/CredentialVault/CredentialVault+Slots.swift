import Foundation
import Logging
import Synchronization

// Key slots: list, add, remove, change a passphrase. Records are untouched.
extension CredentialVault {
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

    /// Adds a slot wrapping the current data key, with an optional `label` (1–64 printable characters, see
    /// ``KeySlot/label``). Records are untouched.
    @discardableResult
    public func addSlot(_ source: NewKeySlot, label: String? = nil) async throws -> KeySlot {
        let (key, vaultID) = (dataKey, vaultID)
        let made = try await Offload.run(expensive: source.needsKDF) {
            try SlotCipher.makeSlot(source, wrapping: key, vaultID: vaultID, label: label)
        }
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
        var (replacement, wrappingKey) = try await Offload.run(expensive: true) {
            try SlotCipher.makeSlot(
                .passphrase(passphrase, limits),
                wrapping: key,
                vaultID: vaultID,
                label: target.label
            )
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
}
