import Foundation

/// Wraps and unwraps data keys in key slots.
package enum SlotCipher {
    static let version: UInt8 = 1

    /// `"SCVK" ‖ version ‖ vault id ‖ key id (u32 BE) ‖ kind ‖ salt ‖ ops (u64 BE) ‖ mem (u64 BE)`, then — only
    /// for a slot with a label or fingerprint, so that older slots open as before — `3 ‖ len (u16 BE) ‖ label ‖ len
    /// (u16 BE) ‖ fingerprint`.
    static func associatedData(
        vaultID: [UInt8],
        keyID: UInt32,
        kind: KeySlot.Kind,
        label: String? = nil,
        fingerprint: String? = nil
    ) -> [UInt8] {
        var ad: [UInt8] = Array("SCVK".utf8)
        ad.append(version)
        ad += vaultID
        ad.appendBigEndian(keyID)
        switch kind {
        case .passphrase(let salt, let ops, let mem):
            ad.append(1)
            ad += salt
            ad.appendBigEndian(ops)
            ad.appendBigEndian(mem)
        case .keyFile:
            ad.append(2)
        }
        if label != nil || fingerprint != nil {
            ad.append(3)
            for text in [label ?? "", fingerprint ?? ""] {
                let bytes = Array(text.utf8.prefix(Int(UInt16.max)))
                ad.appendBigEndian(UInt16(bytes.count))
                ad += bytes
            }
        }
        return ad
    }

    /// Makes a slot for `source` that wraps `dataKey`; also returns the wrapping key (so that the caller need not
    /// run the KDF again).
    static func makeSlot(
        _ source: NewKeySlot,
        wrapping dataKey: DataKey,
        vaultID: [UInt8],
        label: String? = nil
    ) throws(VaultError) -> (slot: KeySlot, wrappingKey: SecureBytes) {
        if let label, !KeySlot.isValidLabel(label) {
            throw .invalid("a slot label is 1 to 64 printable characters")
        }
        let kind: KeySlot.Kind
        let wrappingKey: SecureBytes
        var fingerprint: String?
        switch source {
        case .passphrase(let passphrase, let limits):
            guard !passphrase.isEmpty else { throw .invalid("the passphrase is empty") }
            let salt = Sodium.randomBytes(Sodium.pwhashSaltBytes)
            kind = .passphrase(salt: salt, opsLimit: limits.opsLimit, memLimit: limits.memLimit)
            wrappingKey = try derive(passphrase, salt: salt, limits: limits)
        case .key(let key):
            kind = .keyFile
            wrappingKey = key.bytes
            fingerprint = key.fingerprint
        }
        let slot = KeySlot(
            id: 0,
            kind: kind,
            keyID: dataKey.id,
            wrappedKey: [],
            createdAt: Date(),
            label: label,
            fingerprint: fingerprint
        )
        var made = slot
        made.wrappedKey = wrap(
            dataKey,
            wrappingKey: wrappingKey,
            vaultID: vaultID,
            slot: slot,
            nonce: Sodium.randomBytes(Sodium.aeadNonceBytes)
        )
        return (made, wrappingKey)
    }

    /// Wraps `dataKey` for a slot of `kind` without a label or fingerprint (the format every slot had before them).
    static func wrap(
        _ dataKey: DataKey,
        wrappingKey: SecureBytes,
        vaultID: [UInt8],
        kind: KeySlot.Kind,
        nonce: [UInt8]
    ) -> [UInt8] {
        let slot = KeySlot(id: 0, kind: kind, keyID: dataKey.id, wrappedKey: [], createdAt: Date())
        return wrap(dataKey, wrappingKey: wrappingKey, vaultID: vaultID, slot: slot, nonce: nonce)
    }

    /// Wraps `dataKey` for `slot` (its kind, label and fingerprint go into the associated data).
    static func wrap(
        _ dataKey: DataKey,
        wrappingKey: SecureBytes,
        vaultID: [UInt8],
        slot: KeySlot,
        nonce: [UInt8]
    ) -> [UInt8] {
        let ad = associatedData(
            vaultID: vaultID,
            keyID: dataKey.id,
            kind: slot.kind,
            label: slot.label,
            fingerprint: slot.fingerprint
        )
        let ct = dataKey.bytes.withUnsafeBytes {
            Sodium.aeadSeal(plaintext: $0, ad: ad, nonce: nonce, key: wrappingKey)
        }
        return [version] + nonce + ct
    }

    /// Whether `secret` is of the kind `slot` takes.
    static func accepts(_ slot: KeySlot, _ secret: UnlockSecret) -> Bool {
        switch (slot.kind, secret) {
        case (.passphrase, .passphrase), (.keyFile, .key): true
        default: false
        }
    }

    /// Argon2id with limits that were already bounded.
    private static func derive(
        _ passphrase: SecureBytes,
        salt: [UInt8],
        limits: KDFLimits
    ) throws(VaultError) -> SecureBytes {
        guard
            let key = Sodium.argon2id(
                passphrase: passphrase,
                salt: salt,
                opsLimit: limits.opsLimit,
                memLimit: limits.memLimit
            )
        else { throw VaultError(.storage, "Argon2id could not allocate \(limits.memLimit) bytes") }
        return key
    }

    /// Derives the wrapping key for `slot` from `secret`, bounding stored KDF limits first.
    static func wrappingKey(for slot: KeySlot, secret: UnlockSecret) throws(VaultError) -> SecureBytes {
        switch (slot.kind, secret) {
        case (.passphrase(let salt, let ops, let mem), .passphrase(let passphrase)):
            guard salt.count == Sodium.pwhashSaltBytes else {
                throw .integrity("key slot \(slot.id) has a malformed salt")
            }
            let limits: KDFLimits
            do { limits = try KDFLimits(opsLimit: ops, memLimit: mem) } catch {
                throw .integrity("key slot \(slot.id) asks for out-of-bounds KDF limits: \(error.message)")
            }
            return try derive(passphrase, salt: salt, limits: limits)
        case (.keyFile, .key(let key)):
            return key.bytes
        default:
            throw .wrongKey()
        }
    }

    /// Checks what can be checked without the secret: the wrapped key's version and length, a passphrase slot's salt
    /// length and KDF limits. Throws ``VaultError/Code/integrityFailure`` naming the slot.
    static func validate(_ slot: KeySlot) throws(VaultError) {
        let b = slot.wrappedKey
        guard b.count == 1 + Sodium.aeadNonceBytes + Sodium.aeadKeyBytes + Sodium.aeadTagBytes, b[0] == version else {
            throw .integrity("key slot \(slot.id) is malformed")
        }
        if case .passphrase(let salt, let ops, let mem) = slot.kind {
            guard salt.count == Sodium.pwhashSaltBytes else {
                throw .integrity("key slot \(slot.id) has a malformed salt")
            }
            do { _ = try KDFLimits(opsLimit: ops, memLimit: mem) } catch {
                throw .integrity("key slot \(slot.id) asks for out-of-bounds KDF limits: \(error.message)")
            }
        }
    }

    /// Opens `slot` with `wrappingKey`; `nil` when the key is wrong (or the slot was altered).
    package static func unwrap(
        _ slot: KeySlot,
        wrappingKey: SecureBytes,
        vaultID: [UInt8]
    ) throws(VaultError) -> DataKey? {
        let b = slot.wrappedKey
        let header = 1 + Sodium.aeadNonceBytes
        guard b.count == header + Sodium.aeadKeyBytes + Sodium.aeadTagBytes, b[0] == version else {
            throw .integrity("key slot \(slot.id) is malformed")
        }
        let ad = associatedData(
            vaultID: vaultID,
            keyID: slot.keyID,
            kind: slot.kind,
            label: slot.label,
            fingerprint: slot.fingerprint
        )
        guard
            let key = Sodium.aeadOpen(
                ciphertext: b[header...],
                ad: ad,
                nonce: b[1..<header],
                key: wrappingKey,
                locked: true
            )
        else { return nil }
        return DataKey(id: slot.keyID, bytes: key)
    }
}
