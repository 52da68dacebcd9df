import Synchronization

/// At most one in-flight operation per key: a caller for a key whose operation is running joins it and gets its
/// result; other keys are never blocked.
///
/// The operation runs in a task of its own, so a cancelled caller stops waiting but does not abandon the operation
/// half-way (a token rotation, say): the other callers, and the stored result, still get it.
final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let inFlight = Mutex<[Key: Task<Value, any Error>]>([:])

    /// An empty group.
    init() {}

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
