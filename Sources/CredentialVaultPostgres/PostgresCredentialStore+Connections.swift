import CredentialVault
import Logging
import PostgresNIO
import Synchronization

// Leasing pooled connections with a deadline on the wait (never on the work done with them), and transactions.
extension PostgresCredentialStore {
    /// What the lease's helper tasks report to the caller.
    private enum LeaseEvent: Sendable {
        case leased(PostgresConnection)
        case failed(any Error)
        case timedOut
    }

    /// Runs `body` with a connection leased from `client`, in the caller's isolation. Only the wait for the lease is
    /// bounded, by `timeout` (then `timeoutError` is thrown): once a connection is leased, `body` runs to its end, so
    /// that a write is never reported as failed after it committed.
    ///
    /// The lease is held by a child task until `body` returns, and that task ignores cancellation: a connection on
    /// which a session lock is held goes back to the pool only after the lock's release ran (or the connection was
    /// closed), even if the caller is cancelled meanwhile.
    func withLease<T>(
        from client: PostgresClient,
        within timeout: Duration,
        orThrow timeoutError: @escaping @Sendable () -> VaultError,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let (events, eventSink) = AsyncStream.makeStream(of: LeaseEvent.self)
        let done = OneShot()
        return try await withThrowingTaskGroup(of: Void.self, isolation: isolation) { group in
            group.addTask {
                do {
                    try await client.withConnection { connection in
                        eventSink.yield(.leased(connection))
                        await done.wait()
                    }
                } catch {
                    eventSink.yield(.failed(error))
                }
            }
            let timer = Task {
                try await Task.sleep(for: timeout)
                eventSink.yield(.timedOut)
            }
            defer {
                timer.cancel()
                done.fire()
            }
            var iterator = events.makeAsyncIterator()
            let connection: PostgresConnection
            switch await iterator.next() {
            case .leased(let leased): connection = leased
            case .failed(let error): throw mapped(error)
            case .timedOut:
                group.cancelAll()
                throw timeoutError()
            case nil:
                group.cancelAll()
                throw CancellationError()
            }
            timer.cancel()
            return try await body(connection)
        }
    }

    /// Runs `body` on a leased query connection; the lease waits at most ``PostgresLocation/connectTimeout``.
    func withQueryConnection<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let location = location
        do {
            return try await withLease(
                from: queries,
                within: location.connectTimeout,
                orThrow: { Self.unreachable(location, "no connection within \(location.connectTimeout)") },
                body
            )
        } catch {
            throw mapped(error)
        }
    }

    /// Runs the statements of `body` as one transaction (READ COMMITTED; each method takes the row locks its checks
    /// need): committed if `body` returns, rolled back if it throws.
    func transaction<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withQueryConnection { connection in
            try await connection.query("BEGIN", logger: logger)
            let value: T
            do {
                value = try await body(connection)
            } catch {
                // A broken connection cannot commit either: the server rolls back when it notices.
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
            do {
                try await connection.query("COMMIT", logger: logger)
            } catch {
                throw Self.commitFailed(error, location)
            }
            return value
        }
    }

    /// Runs one statement on a pooled connection and returns its rows.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await withQueryConnection { connection in
            try await Self.collect(connection.query(query, logger: logger))
        }
    }

    static func collect(_ sequence: PostgresRowSequence) async throws -> [PostgresRow] {
        var rows: [PostgresRow] = []
        for try await row in sequence { rows.append(row) }
        return rows
    }
}

/// A signal fired once, awaited by one task, that does not end the wait on cancellation.
final class OneShot: Sendable {
    private let state = Mutex<(fired: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                if state.fired { return true }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func fire() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.fired = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}
