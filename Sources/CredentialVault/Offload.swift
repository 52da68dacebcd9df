import NIOPosix

/// Runs CPU-heavy synchronous work (Argon2id: 0.1 s to seconds, up to 1 GiB) on SwiftNIO's shared blocking pool
/// (`NIOThreadPool.singleton`, a bounded set of threads, as hummingbird-auth runs Bcrypt), so that it does not occupy
/// one of the few threads of Swift's cooperative pool. Cheap work (a key-file slot: no KDF) runs inline and starts
/// no thread at all.
enum Offload {
    static func run<T: Sendable>(
        expensive: Bool,
        _ work: @escaping @Sendable () throws -> T
    ) async throws -> T {
        guard expensive else { return try work() }
        return try await NIOThreadPool.singleton.runIfActive { try work() }
    }
}

extension UnlockSecret {
    /// Whether opening a slot with it runs the KDF.
    var needsKDF: Bool { if case .passphrase = self { true } else { false } }
}

extension NewKeySlot {
    /// Whether making the slot runs the KDF.
    var needsKDF: Bool { if case .passphrase = self { true } else { false } }
}
