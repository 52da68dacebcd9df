internal import CSodium

extension Sodium {
    /// Keyed BLAKE2b (`crypto_generichash` with a key) of `message`, `outputBytes` long (16…64), into a wipeable
    /// buffer: derives a subkey from a 32-byte key and a domain-separating message, as libsodium's `crypto_kdf` does
    /// with a shorter context. (libsodium 1.0.18, which Debian ships, has no HKDF.)
    static func keyedHash(
        _ message: [UInt8],
        key: SecureBytes,
        outputBytes: Int = 32,
        locked: Bool = true
    ) -> SecureBytes {
        ensureInitialized()
        precondition(
            (Int(crypto_generichash_BYTES_MIN)...Int(crypto_generichash_BYTES_MAX)).contains(outputBytes)
                && (Int(crypto_generichash_KEYBYTES_MIN)...Int(crypto_generichash_KEYBYTES_MAX)).contains(key.count),
            "keyed BLAKE2b parameters out of range"
        )
        return SecureBytes(count: outputBytes, locked: locked) { out in
            let rc = key.withUnsafeBytes { k in
                message.withUnsafeBufferPointer { m in
                    crypto_generichash(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        out.count,
                        m.baseAddress,
                        UInt64(m.count),
                        k.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        k.count
                    )
                }
            }
            precondition(rc == 0, "crypto_generichash failed")
        }
    }
}
