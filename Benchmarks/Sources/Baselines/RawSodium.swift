internal import CSodiumBaseline

/// The baseline: libsodium called directly, with no vault code around it.
public enum RawSodium {
    public static func initialize() { precondition(sodium_init() >= 0) }

    public static func seal(_ message: [UInt8], key: [UInt8], nonce: [UInt8], ad: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: message.count + 16)
        var length: UInt64 = 0
        _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
            &out,
            &length,
            message,
            UInt64(message.count),
            ad,
            UInt64(ad.count),
            nil,
            nonce,
            key
        )
        return out
    }

    public static func open(_ sealed: [UInt8], key: [UInt8], nonce: [UInt8], ad: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: sealed.count - 16)
        var length: UInt64 = 0
        let rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
            &out,
            &length,
            nil,
            sealed,
            UInt64(sealed.count),
            ad,
            UInt64(ad.count),
            nonce,
            key
        )
        return rc == 0 ? out : nil
    }

    public static func randomNonce() -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: 24)
        randombytes_buf(&nonce, 24)
        return nonce
    }

    public static func argon2idInteractive(_ password: [UInt8], salt: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = password.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { c in
                crypto_pwhash(
                    &out,
                    32,
                    c.baseAddress!,
                    UInt64(password.count),
                    salt,
                    UInt64(crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE),
                    Int(crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE),
                    crypto_pwhash_ALG_ARGON2ID13
                )
            }
        }
        return out
    }
}
