/// Seals and opens record values with XChaCha20-Poly1305 and a fresh random nonce per seal.
/// There is no way to open without the associated data of a ``SealingContext``.
package enum RecordCipher {
    package static func seal(_ plaintext: SecureBytes, key: DataKey, context: SealingContext) -> SealedValue {
        seal(plaintext, key: key, context: context, nonce: Sodium.randomBytes(Sodium.aeadNonceBytes))
    }

    /// Deterministic variant for known-answer tests only.
    static func seal(_ plaintext: SecureBytes, key: DataKey, context: SealingContext, nonce: [UInt8]) -> SealedValue {
        precondition(key.id == context.keyID, "sealing context names another key")
        let ad = context.associatedData(version: SealedValue.formatVersion)
        let ct = plaintext.withUnsafeBytes { pt in
            Sodium.aeadSeal(plaintext: pt, ad: ad, nonce: nonce, key: key.bytes)
        }
        return SealedValue(bytes: [SealedValue.formatVersion] + nonce + ct)
    }

    /// Opens `value`. A value of the legacy format (no metadata in its associated data) opens only with
    /// `acceptingLegacy`, which the vault grants only to its explicit format upgrade and to `verify`.
    package static func open(
        _ value: SealedValue,
        key: DataKey,
        context: SealingContext,
        acceptingLegacy: Bool = false
    ) throws(VaultError) -> SecureBytes {
        let b = value.bytes
        let header = 1 + Sodium.aeadNonceBytes
        // Only on the error paths: interpolating it on every open cost more than the decryption (BENCHMARKS.md).
        func what() -> String { "the sealed \(context.field) of '\(context.account)'" }
        guard b.count >= header + Sodium.aeadTagBytes,
            b[0] == SealedValue.formatVersion || b[0] == SealedValue.legacyFormatVersion
        else {
            throw .integrity("\(what()) is malformed")
        }
        guard b[0] == SealedValue.formatVersion || acceptingLegacy else {
            throw .integrity(
                "\(what()) is sealed in format 1, whose metadata (token URL, client id, ...) is not authenticated; "
                    + "check the vault's accounts, then upgrade it (sendcloud-vault verify --upgrade)"
            )
        }
        guard key.id == context.keyID else {
            throw .integrity("\(what()) names key \(context.keyID), which this vault does not hold")
        }
        guard
            let plaintext = Sodium.aeadOpen(
                ciphertext: b[header...],
                ad: context.associatedData(version: b[0]),
                nonce: b[1..<header],
                key: key.bytes
            )
        else {
            throw .integrity(
                b[0] == SealedValue.formatVersion
                    ? "\(what()) failed its integrity check: the value, or the account's mode, client id, token URL, "
                        + "scopes, generation or set of secrets was altered"
                    : "\(what()) failed its integrity check"
            )
        }
        return plaintext
    }

    /// The format version of `value` (its first byte), if it has one.
    package static func version(of value: SealedValue) -> UInt8? { value.bytes.first }
}
