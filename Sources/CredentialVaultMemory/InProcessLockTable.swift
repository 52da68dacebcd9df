import CredentialVault
import Synchronization

/// The in-memory store's locks: exclusive per account, and one lock over every account, within this process.
///
/// A waiter polls (1 ms, doubling to 50 ms) until the lock is free or its timeout passes; a cancelled waiter stops
/// waiting with `CancellationError`.
final class InProcessLockTable: Sendable {
    enum Key: Hashable, Sendable {
        case account(String)
        case every
    }

    private struct Held {
        var accounts: Set<String> = []
        var every = false
    }
    private let held = Mutex(Held())

    private func tryAcquire(_ key: Key) -> Bool {
        held.withLock { held in
            guard !held.every else { return false }
            switch key {
            case .account(let name):
                return held.accounts.insert(name).inserted
            case .every:
                guard held.accounts.isEmpty else { return false }
                held.every = true
                return true
            }
        }
    }

    func acquire(_ key: Key, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(1)
        while !tryAcquire(key) {
            guard ContinuousClock.now < deadline else {
                throw VaultError(.lockTimeout, "the lock stayed held for \(timeout)")
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    func release(_ key: Key) {
        held.withLock { held in
            switch key {
            case .account(let name): held.accounts.remove(name)
            case .every: held.every = false
            }
        }
    }
}
