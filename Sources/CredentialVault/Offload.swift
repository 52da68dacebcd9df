import Foundation

/// Runs CPU-heavy synchronous work (Argon2id: 0.1 s to seconds, up to 1 GiB) on its own thread, so that it does
/// not occupy one of the few threads of Swift's cooperative pool while other tasks wait.
enum Offload {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try work() })
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }
}
