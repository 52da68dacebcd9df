internal import CSodium

/// Wraps a data key as a key slot does, from the format documented on `SlotCipher.associatedData`
/// (`"SCVK" ‖ version ‖ vault id ‖ key id (u32 BE) ‖ kind ‖ salt ‖ ops (u64 BE) ‖ mem (u64 BE)`), so that the slot
/// seeds are genuine. `SlotCipher.wrap` is internal to CredentialVault; if this copy of the format drifts,
/// `FuzzCorpusTests` sees the seeds rejected.
enum SlotSealing {
    /// The passphrase parameters of the slot, or `nil` for a key-file slot.
    struct Passphrase {
        var salt: [UInt8]
        var opsLimit: UInt64
        var memLimit: UInt64
    }

    static func wrap(
        dataKey: [UInt8],
        keyID: UInt32,
        vaultID: [UInt8],
        passphrase: Passphrase?,
        wrappingKey: [UInt8]
    ) -> [UInt8] {
        func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
            withUnsafeBytes(of: value.bigEndian) { Array($0) }
        }
        var ad: [UInt8] = Array("SCVK".utf8) + [1] + vaultID + bigEndian(keyID)
        if let passphrase {
            ad += [1] + passphrase.salt + bigEndian(passphrase.opsLimit) + bigEndian(passphrase.memLimit)
        } else {
            ad.append(2)
        }
        let nonce: [UInt8] = (0..<UInt8(crypto_aead_xchacha20poly1305_ietf_npubbytes())).map { $0 &* 7 &+ 3 }
        var ciphertext = [UInt8](repeating: 0, count: dataKey.count + Int(crypto_aead_xchacha20poly1305_ietf_abytes()))
        var length: UInt64 = 0
        precondition(sodium_init() >= 0, "libsodium did not initialise")
        let status = crypto_aead_xchacha20poly1305_ietf_encrypt(
            &ciphertext,
            &length,
            dataKey,
            UInt64(dataKey.count),
            ad,
            UInt64(ad.count),
            nil,
            nonce,
            wrappingKey
        )
        precondition(status == 0, "crypto_aead_xchacha20poly1305_ietf_encrypt failed")
        return [1] + nonce + ciphertext
    }
}
