internal import CSodium

/// SHA-256 through libsodium, for checking PKCE S256 challenges (the only C call of the fake server).
enum SHA256Sodium {
    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        precondition(sodium_init() >= 0, "sodium_init failed")
        var digest = [UInt8](repeating: 0, count: 32)
        let input = bytes.isEmpty ? [0] : bytes
        input.withUnsafeBufferPointer { inputBuffer in
            digest.withUnsafeMutableBufferPointer { digestBuffer in
                _ = crypto_hash_sha256(digestBuffer.baseAddress!, inputBuffer.baseAddress!, UInt64(bytes.count))
            }
        }
        return digest
    }
}
