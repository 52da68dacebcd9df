internal import CSodium

extension Sodium {
    /// The size of a secretstream header (the stream's nonce), written once before the first chunk.
    static let secretStreamHeaderBytes = Int(crypto_secretstream_xchacha20poly1305_HEADERBYTES)
    /// What each chunk adds to its plaintext: one encrypted tag byte and the 16-byte Poly1305 MAC.
    static let secretStreamChunkOverhead = Int(crypto_secretstream_xchacha20poly1305_ABYTES)
    /// The size of a secretstream key.
    static let secretStreamKeyBytes = Int(crypto_secretstream_xchacha20poly1305_KEYBYTES)

    /// Unkeyed BLAKE2b (`crypto_generichash` without a key) of `message`, `outputBytes` long: a checksum that tells a
    /// damaged header from a wrong key. Not a MAC — anyone can recompute it.
    static func checksum(_ message: [UInt8], outputBytes: Int = 32) -> [UInt8] {
        ensureInitialized()
        precondition((Int(crypto_generichash_BYTES_MIN)...Int(crypto_generichash_BYTES_MAX)).contains(outputBytes))
        var digest = [UInt8](repeating: 0, count: outputBytes)
        let rc = digest.withUnsafeMutableBufferPointer { out in
            message.withUnsafeBufferPointer { m in
                crypto_generichash(out.baseAddress!, out.count, m.baseAddress, UInt64(m.count), nil, 0)
            }
        }
        precondition(rc == 0, "crypto_generichash failed")
        return digest
    }

    /// The sealing side of `crypto_secretstream_xchacha20poly1305`: a sequence of chunks under one key, each
    /// authenticated together with its position, the last one tagged final, so that a reader detects a chunk
    /// dropped, repeated, reordered or cut off at the end.
    ///
    /// The stream state (key material) lives in its own allocation, wiped when the value goes away.
    final class SecretStreamSealer {
        private let state: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>
        /// The stream header to store before the first chunk.
        let header: [UInt8]
        private var finished = false

        /// Starts a stream under `key` (``secretStreamKeyBytes`` long) with a fresh random header.
        init(key: SecureBytes) {
            Sodium.ensureInitialized()
            precondition(key.count == Sodium.secretStreamKeyBytes, "secretstream key size")
            let state = UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>.allocate(capacity: 1)
            var header = [UInt8](repeating: 0, count: Sodium.secretStreamHeaderBytes)
            let rc = key.withUnsafeBytes { k in
                header.withUnsafeMutableBufferPointer { h in
                    crypto_secretstream_xchacha20poly1305_init_push(
                        state,
                        h.baseAddress!,
                        k.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    )
                }
            }
            precondition(rc == 0, "crypto_secretstream_xchacha20poly1305_init_push failed")
            self.state = state
            self.header = header
        }

        deinit {
            sodium_memzero(state, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
            state.deallocate()
        }

        /// Seals the next chunk: `plaintext` plus ``secretStreamChunkOverhead`` bytes. `ad` is authenticated, not
        /// stored. With `final`, the chunk carries `TAG_FINAL` and the stream accepts no further chunk.
        func seal(_ plaintext: SecureBytes, ad: [UInt8], final: Bool) -> [UInt8] {
            precondition(!finished, "a chunk after the final one")
            finished = final
            let tag = UInt8(final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0)
            var out = [UInt8](repeating: 0, count: plaintext.count + Sodium.secretStreamChunkOverhead)
            var outLength: UInt64 = 0
            let rc = plaintext.withUnsafeBytes { m in
                out.withUnsafeMutableBufferPointer { o in
                    ad.withUnsafeBufferPointer { a in
                        crypto_secretstream_xchacha20poly1305_push(
                            state,
                            o.baseAddress!,
                            &outLength,
                            m.count > 0 ? m.baseAddress!.assumingMemoryBound(to: UInt8.self) : nil,
                            UInt64(m.count),
                            a.baseAddress,
                            UInt64(a.count),
                            tag
                        )
                    }
                }
            }
            precondition(rc == 0 && Int(outLength) == out.count, "crypto_secretstream_xchacha20poly1305_push failed")
            return out
        }
    }

    /// The opening side of ``SecretStreamSealer``: chunks must come in the order they were sealed.
    final class SecretStreamOpener {
        private let state: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>

        /// Starts reading a stream whose header is `header`; `nil` when the header is malformed.
        init?(header: ArraySlice<UInt8>, key: SecureBytes) {
            Sodium.ensureInitialized()
            guard header.count == Sodium.secretStreamHeaderBytes, key.count == Sodium.secretStreamKeyBytes else {
                return nil
            }
            let state = UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>.allocate(capacity: 1)
            let rc = key.withUnsafeBytes { k in
                header.withUnsafeBufferPointer { h in
                    crypto_secretstream_xchacha20poly1305_init_pull(
                        state,
                        h.baseAddress!,
                        k.baseAddress!.assumingMemoryBound(to: UInt8.self)
                    )
                }
            }
            guard rc == 0 else {
                sodium_memzero(state, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
                state.deallocate()
                return nil
            }
            self.state = state
        }

        deinit {
            sodium_memzero(state, MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size)
            state.deallocate()
        }

        /// Opens the next chunk with associated data `ad`: its plaintext (into a wipeable buffer) and whether it is
        /// the final one. `nil` when it does not authenticate (wrong key, a flipped byte, a chunk out of place) or
        /// carries a tag other than message or final; no plaintext is released then.
        func open(_ chunk: ArraySlice<UInt8>, ad: [UInt8]) -> (plaintext: SecureBytes, isFinal: Bool)? {
            guard chunk.count >= Sodium.secretStreamChunkOverhead else { return nil }
            struct OpenFailed: Error {}
            var tag: UInt8 = 0xFF
            let plaintext = try? SecureBytes(count: chunk.count - Sodium.secretStreamChunkOverhead) { out in
                var outLength: UInt64 = 0
                let rc = chunk.withUnsafeBufferPointer { c in
                    ad.withUnsafeBufferPointer { a in
                        crypto_secretstream_xchacha20poly1305_pull(
                            state,
                            out.count > 0 ? out.baseAddress!.assumingMemoryBound(to: UInt8.self) : nil,
                            &outLength,
                            &tag,
                            c.baseAddress!,
                            UInt64(c.count),
                            a.baseAddress,
                            UInt64(a.count)
                        )
                    }
                }
                guard rc == 0, Int(outLength) == out.count else { throw OpenFailed() }
            }
            guard let plaintext else { return nil }
            switch tag {
            case UInt8(crypto_secretstream_xchacha20poly1305_TAG_MESSAGE): return (plaintext, false)
            case UInt8(crypto_secretstream_xchacha20poly1305_TAG_FINAL): return (plaintext, true)
            default: return nil
            }
        }
    }
}
