public import Foundation

// Sealed, expiring state: small blobs that an application hands to an untrusted party (a browser, an OAuth
// authorization server) and takes back later, possibly on another instance of the same vault.
extension CredentialVault {
    /// The longest text ``openState(_:purpose:now:)`` reads; longer input is refused before any work.
    /// ``sealState(_:purpose:expiresAt:)`` never makes a longer one.
    public static let maximumSealedStateLength = 16 * 1024

    /// Seals `plaintext` into a URL-safe string (base64url without padding) that only this vault — any instance
    /// opened on the same store with a key that unlocks it — can open, for `purpose` only, until `expiresAt`.
    ///
    /// The state is sealed with XChaCha20-Poly1305 under a subkey derived from the vault's data key and the purpose
    /// (keyed BLAKE2b); its associated data binds the vault id, the purpose, the format version, the data key's id
    /// and the expiry, so a state of another vault, of another purpose, with a byte changed or with its expiry
    /// moved does not open. The expiry (whole seconds, rounded down) and the data key's id travel in clear; the
    /// plaintext is hidden but its length is not.
    ///
    /// Rotating the data key (``rotateDataKey(dropOtherSlots:lockTimeout:)``) invalidates every state sealed before
    /// it: the old key is gone. Before sealing, the vault loads a key that another process rotated in
    /// (``reloadKeyIfRotated()``), so that every instance, which loads it too before opening, can open the state.
    ///
    /// - Parameters:
    ///   - plaintext: What to seal: at most 12,235 bytes, which make a state of ``maximumSealedStateLength``
    ///     characters — keep it to a few KiB, so that the state fits in a URL.
    ///   - purpose: A label naming what the state is for, such as `"sendcloud-oauth.web-login"`: 1–255 bytes of
    ///     UTF-8. A state opens only for the purpose it was sealed for.
    ///   - expiresAt: When the state stops opening.
    /// - Throws: ``VaultError/Code/invalidInput`` for a bad purpose or a plaintext whose state would be longer than
    ///   ``maximumSealedStateLength`` (it could not be opened); the errors of ``reloadKeyIfRotated()``.
    public func sealState(_ plaintext: SecureBytes, purpose: String, expiresAt: Date) async throws -> String {
        try SealedState.validate(purpose: purpose)
        guard SealedState.encodedLength(plaintextBytes: plaintext.count) <= Self.maximumSealedStateLength else {
            throw VaultError.invalid(
                "a sealed state of \(plaintext.count) bytes would be longer than \(Self.maximumSealedStateLength) "
                    + "characters, which no vault opens"
            )
        }
        _ = try await reloadKeyIfRotated()
        let key = dataKey
        let header = SealedState.header(keyID: key.id, expiresAt: SealedState.seconds(expiresAt))
        let nonce = Sodium.randomBytes(Sodium.aeadNonceBytes)
        let subkey = SealedState.subkey(of: key, purpose: purpose)
        let ad = SealedState.associatedData(header: header, vaultID: vaultID, purpose: purpose)
        let sealed = plaintext.withUnsafeBytes { Sodium.aeadSeal(plaintext: $0, ad: ad, nonce: nonce, key: subkey) }
        return SealedState.base64URL(header + nonce + sealed)
    }

    /// Opens a state that ``sealState(_:purpose:expiresAt:)`` made for `purpose`, if it has not expired at `now`.
    ///
    /// The errors say only that the state is not valid, or — for a state that opened — that it has expired; they
    /// never show the state or its contents. The vault first loads a data key that another process rotated in
    /// (``reloadKeyIfRotated()``, one read of the vault's header), so a state sealed before a rotation does not
    /// open on any instance, and one sealed after it opens on every instance.
    ///
    /// - Throws: ``VaultError/Code/invalidInput`` when the state is malformed, altered, truncated, of another
    ///   purpose, of another vault or of a rotated key, or has expired; the errors of ``reloadKeyIfRotated()``.
    public func openState(_ state: String, purpose: String, now: Date = Date()) async throws -> SecureBytes {
        try SealedState.validate(purpose: purpose)
        guard state.utf8.count <= Self.maximumSealedStateLength, let bytes = SealedState.decodeBase64URL(state),
            bytes.count >= SealedState.headerBytes + Sodium.aeadNonceBytes + Sodium.aeadTagBytes,
            bytes[0] == SealedState.formatVersion
        else { throw SealedState.invalid }
        let keyID = bytes[1..<5].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let expiresAt = bytes[5..<13].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        _ = try await reloadKeyIfRotated()
        let key = dataKey
        guard keyID == key.id else { throw SealedState.invalid }
        let header = Array(bytes[0..<SealedState.headerBytes])
        let nonceEnd = SealedState.headerBytes + Sodium.aeadNonceBytes
        guard
            let plaintext = Sodium.aeadOpen(
                ciphertext: bytes[nonceEnd...],
                ad: SealedState.associatedData(header: header, vaultID: vaultID, purpose: purpose),
                nonce: bytes[SealedState.headerBytes..<nonceEnd],
                key: SealedState.subkey(of: key, purpose: purpose)
            )
        else { throw SealedState.invalid }
        guard Int64(bitPattern: expiresAt) > SealedState.seconds(now) else {
            throw VaultError.invalid("the state has expired")
        }
        return plaintext
    }
}

/// The format of sealed states: `version (1) ‖ key id (u32 BE) ‖ expiry (i64 BE, Unix seconds) ‖ nonce (24) ‖
/// ciphertext ‖ tag (16)`, in base64url without padding.
private enum SealedState {
    static let formatVersion: UInt8 = 1
    static let headerBytes = 13

    /// The length of the text that seals `plaintextBytes` bytes: base64url without padding of the header, the
    /// nonce, the ciphertext and the tag.
    static func encodedLength(plaintextBytes: Int) -> Int {
        let bytes = headerBytes + Sodium.aeadNonceBytes + plaintextBytes + Sodium.aeadTagBytes
        return (bytes * 4 + 2) / 3
    }

    static var invalid: VaultError {
        VaultError.invalid(
            "the state is not valid: it was altered or truncated, is meant for something else, was issued by another "
                + "vault, or the vault's data key was rotated since it was issued"
        )
    }

    static func validate(purpose: String) throws(VaultError) {
        guard (1...255).contains(purpose.utf8.count) else {
            throw .invalid("a sealed state's purpose has 1 to 255 bytes of UTF-8")
        }
    }

    /// Whole Unix seconds, rounded down (an expiry comes at most a second early, never late).
    static func seconds(_ date: Date) -> Int64 {
        let value = date.timeIntervalSince1970.rounded(.down)
        guard value.isFinite else { return value > 0 ? .max : .min }
        return Int64(max(min(value, Double(Int64.max / 2)), Double(Int64.min / 2)))
    }

    static func header(keyID: UInt32, expiresAt: Int64) -> [UInt8] {
        var header: [UInt8] = [formatVersion]
        header.appendBigEndian(keyID)
        header.appendBigEndian(expiresAt)
        return header
    }

    /// `"SCVS" ‖ header ‖ vault id ‖ purpose (length-prefixed)`.
    static func associatedData(header: [UInt8], vaultID: [UInt8], purpose: String) -> [UInt8] {
        var ad = Array("SCVS".utf8) + header + vaultID
        ad.appendLengthPrefixed(purpose)
        return ad
    }

    /// A subkey per data key and purpose: keyed BLAKE2b-256 of a domain label and the purpose.
    static func subkey(of key: DataKey, purpose: String) -> SecureBytes {
        var message = Array("sendcloud-vault sealed-state subkey v1".utf8) + [0]
        message.appendLengthPrefixed(purpose)
        return Sodium.keyedHash(message, key: key.bytes)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// Strict base64url without padding: only `A–Z a–z 0–9 - _`, no length of the form 4n+1.
    static func decodeBase64URL(_ text: String) -> [UInt8]? {
        let alphabet = text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                true
            default:
                false
            }
        }
        guard alphabet, text.utf8.count % 4 != 1 else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        return Data(base64Encoded: standard).map { [UInt8]($0) }
    }
}
