internal import CSodium

/// SHA-256 through libsodium (`crypto_hash_sha256`), for PKCE S256.
enum SHA256Sodium {
    static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(sodium_init() >= 0, "sodium_init failed")
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
}
