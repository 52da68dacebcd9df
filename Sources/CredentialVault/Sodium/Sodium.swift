internal import CSodium

/// The thin fence around libsodium: the package's one wrapper. Sibling modules (SendcloudOAuth, the test server)
/// use its `package` members; nothing else in the package calls C, except the benchmark's raw baseline.
package enum Sodium {
    static let aeadKeyBytes = Int(crypto_aead_xchacha20poly1305_ietf_KEYBYTES)
    static let aeadNonceBytes = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    static let aeadTagBytes = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
    static let pwhashSaltBytes = Int(crypto_pwhash_argon2id_SALTBYTES)

    private static let initialized: Bool = sodium_init() >= 0

    /// Initialises libsodium once; `sodium_init` is idempotent and thread-safe.
    static func ensureInitialized() {
        precondition(initialized, "sodium_init failed")
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        ensureInitialized()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, count) }
        return bytes
    }

    /// XChaCha20-Poly1305 (IETF) seal of `plaintext` under `key`, `nonce` and associated data `ad`.
    /// Returns ciphertext followed by the 16-byte tag.
    static func aeadSeal(
        plaintext: UnsafeRawBufferPointer,
        ad: [UInt8],
        nonce: [UInt8],
        key: SecureBytes
    ) -> [UInt8] {
        ensureInitialized()
        precondition(nonce.count == aeadNonceBytes && key.count == aeadKeyBytes)
        var out = [UInt8](repeating: 0, count: plaintext.count + aeadTagBytes)
        var outLen: UInt64 = 0
        let rc = key.withUnsafeBytes { k in
            out.withUnsafeMutableBufferPointer { o in
                ad.withUnsafeBufferPointer { a in
                    nonce.withUnsafeBufferPointer { n in
                        crypto_aead_xchacha20poly1305_ietf_encrypt(
                            o.baseAddress!,
                            &outLen,
                            plaintext.count > 0 ? plaintext.baseAddress!.assumingMemoryBound(to: UInt8.self) : nil,
                            UInt64(plaintext.count),
                            a.baseAddress,
                            UInt64(a.count),
                            nil,
                            n.baseAddress!,
                            k.baseAddress!.assumingMemoryBound(to: UInt8.self)
                        )
                    }
                }
            }
        }
        precondition(rc == 0 && Int(outLen) == out.count, "crypto_aead_xchacha20poly1305_ietf_encrypt failed")
        return out
    }

    /// Opens what ``aeadSeal(plaintext:ad:nonce:key:)`` produced. Returns `nil` when the tag does not verify
    /// (wrong key, wrong associated data, or any flipped byte); no plaintext is released in that case.
    static func aeadOpen(
        ciphertext: ArraySlice<UInt8>,
        ad: [UInt8],
        nonce: ArraySlice<UInt8>,
        key: SecureBytes,
        locked: Bool = false
    ) -> SecureBytes? {
        ensureInitialized()
        guard ciphertext.count >= aeadTagBytes, nonce.count == aeadNonceBytes, key.count == aeadKeyBytes else {
            return nil
        }
        struct OpenFailed: Error {}
        return try? SecureBytes(count: ciphertext.count - aeadTagBytes, locked: locked) { out in
            var outLen: UInt64 = 0
            let rc = key.withUnsafeBytes { k in
                ciphertext.withUnsafeBufferPointer { c in
                    ad.withUnsafeBufferPointer { a in
                        nonce.withUnsafeBufferPointer { n in
                            crypto_aead_xchacha20poly1305_ietf_decrypt(
                                out.count > 0 ? out.baseAddress!.assumingMemoryBound(to: UInt8.self) : nil,
                                &outLen,
                                nil,
                                c.baseAddress!,
                                UInt64(c.count),
                                a.baseAddress,
                                UInt64(a.count),
                                n.baseAddress!,
                                k.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            )
                        }
                    }
                }
            }
            guard rc == 0, Int(outLen) == out.count else { throw OpenFailed() }
        }
    }

    /// Argon2id13 (`crypto_pwhash`) of `passphrase` into a 32-byte key. The caller has already bounded the limits.
    static func argon2id(passphrase: SecureBytes, salt: [UInt8], opsLimit: UInt64, memLimit: UInt64) -> SecureBytes? {
        ensureInitialized()
        precondition(salt.count == pwhashSaltBytes)
        struct HashFailed: Error {}
        return try? SecureBytes(count: aeadKeyBytes, locked: true) { out in
            let rc = passphrase.withUnsafeBytes { p in
                salt.withUnsafeBufferPointer { s in
                    crypto_pwhash(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        UInt64(out.count),
                        p.baseAddress!.assumingMemoryBound(to: CChar.self),
                        UInt64(p.count),
                        s.baseAddress!,
                        opsLimit,
                        Int(memLimit),
                        crypto_pwhash_ALG_ARGON2ID13
                    )
                }
            }
            // crypto_pwhash fails only when memory cannot be allocated.
            guard rc == 0 else { throw HashFailed() }
        }
    }

    static let argon2idOpsLimitMin = UInt64(crypto_pwhash_argon2id_OPSLIMIT_MIN)
    static let argon2idMemLimitMin = UInt64(crypto_pwhash_argon2id_MEMLIMIT_MIN)
    static let interactive = (
        ops: UInt64(crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE),
        mem: UInt64(crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE)
    )
    static let moderate = (
        ops: UInt64(crypto_pwhash_argon2id_OPSLIMIT_MODERATE),
        mem: UInt64(crypto_pwhash_argon2id_MEMLIMIT_MODERATE)
    )
    static let sensitive = (
        ops: UInt64(crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE),
        mem: UInt64(crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE)
    )

    /// Standard base64 (with padding) of `bytes`, into a wipeable buffer.
    static func base64Encode(_ bytes: SecureBytes) -> SecureBytes {
        ensureInitialized()
        let variant = Int32(sodium_base64_VARIANT_ORIGINAL)
        let len = sodium_base64_encoded_len(bytes.count, variant)  // includes the NUL
        let withNul = SecureBytes(count: len) { out in
            bytes.withUnsafeBytes { b in
                _ = sodium_bin2base64(
                    out.baseAddress!.assumingMemoryBound(to: CChar.self),
                    len,
                    b.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    b.count,
                    variant
                )
            }
        }
        return withNul.slice(0..<(len - 1))
    }

    /// Decodes standard base64 (padding optional, surrounding whitespace ignored) from a wipeable buffer; the
    /// result is `mlock`ed with `locked`.
    static func base64Decode(_ text: SecureBytes, locked: Bool = false) -> SecureBytes? {
        ensureInitialized()
        struct DecodeFailed: Error {}
        let capacity = text.count / 4 * 3 + 3
        var decodedLength = 0
        let variants = [Int32(sodium_base64_VARIANT_ORIGINAL), Int32(sodium_base64_VARIANT_ORIGINAL_NO_PADDING)]
        for variant in variants {
            let full = try? SecureBytes(count: capacity) { out in
                let rc = text.withUnsafeBytes { t in
                    var end: UnsafePointer<CChar>? = nil
                    return sodium_base642bin(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        out.count,
                        t.baseAddress?.assumingMemoryBound(to: CChar.self),
                        t.count,
                        " \t\r\n",
                        &decodedLength,
                        &end,
                        variant
                    )
                        == 0 && end == t.baseAddress.map { $0.assumingMemoryBound(to: CChar.self) + t.count }
                }
                guard rc else { throw DecodeFailed() }
            }
            if let full { return full.slice(0..<decodedLength, locked: locked) }
        }
        return nil
    }

    /// SHA-256 (`crypto_hash_sha256`) of `bytes`: PKCE S256 (RFC 7636) and the test server's check of it.
    package static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        ensureInitialized()
        var digest = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        digest.withUnsafeMutableBufferPointer { out in
            _ = crypto_hash_sha256(
                out.baseAddress!,
                bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                UInt64(bytes.count)
            )
        }
        return digest
    }

    /// SHA-256 of `bytes`.
    package static func sha256(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { sha256($0) } }

    /// The version string of the linked libsodium.
    static var version: String { String(cString: sodium_version_string()) }
}
