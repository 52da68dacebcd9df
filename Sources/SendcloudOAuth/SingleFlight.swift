import Synchronization

/// At most one in-flight operation per key: a caller for a key whose operation is running joins it and gets its
/// result; other keys are never blocked.
///
/// The operation runs in a task of its own, which a caller's cancellation does not reach: a token rotation is never
/// abandoned half-way, and the other callers, and the store, still get its result. A cancelled caller keeps waiting
/// for it too (`Task.value` ignores the waiter's cancellation); the operation is bounded by the lock timeout and the
/// token client's deadline.
final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let inFlight = Mutex<[Key: Task<Value, any Error>]>([:])

    /// An empty group.
    init() {}

    /// Waits until every operation in flight now has finished (their results and errors are the callers').
    func drain() async {
        let tasks = inFlight.withLock { Array($0.values) }
        for task in tasks { _ = try? await task.value }
    }

    /// Joins the operation in flight for `key`, or starts `operation` for it, and returns its result.
    func run(_ key: Key, _ operation: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let task = inFlight.withLock { tasks in
            if let running = tasks[key] { return running }
            let task = Task { try await operation() }
            tasks[key] = task
            return task
        }
        defer {
            inFlight.withLock { tasks in
                if tasks[key] == task { tasks[key] = nil }
            }
        }
        return try await task.value
    }
}
