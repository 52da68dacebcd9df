import Foundation
import Logging
import Synchronization

// Data-key rotation: a new key, every record resealed, one transaction, under every account's lock.
extension CredentialVault {
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
        let slotRows = try await store.slotRows()
        let slots = slotRows.compactMap { try? KeySlot(row: $0) }
        // Damaged slot rows count as other slots: rotation would drop them.
        let otherCount = slotRows.count - (slots.contains { $0.id == state.slotID } ? 1 : 0)
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
        // The slot keeps its label and fingerprint (both bound into the new wrap).
        let current = slots.first { $0.id == state.slotID }
        var slot = KeySlot(
            id: state.slotID,
            kind: state.slotKind,
            keyID: newKey.id,
            wrappedKey: [],
            createdAt: Date(),
            label: current?.label,
            fingerprint: current?.fingerprint
        )
        slot.wrappedKey = SlotCipher.wrap(
            newKey,
            wrappingKey: state.wrappingKey,
            vaultID: vaultID,
            slot: slot,
            nonce: Sodium.randomBytes(Sodium.aeadNonceBytes)
        )
        try await store.rotate(
            expectedKeyID: state.dataKey.id,
            newKeyID: newKey.id,
            expectedSlots: slotRows,
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
