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
            try await connection.answer("BEGIN", logger: logger)
            let value: T
            do {
                value = try await body(connection)
            } catch {
                // A broken connection cannot commit either: the server rolls back when it notices.
                _ = try? await connection.answer("ROLLBACK", logger: logger)
                throw error
            }
            do {
                try await connection.answer("COMMIT", logger: logger)
            } catch {
                throw Self.commitFailed(error, location)
            }
            return value
        }
    }

    /// Runs one statement on a pooled connection and returns its rows.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await withQueryConnection { connection in
            try await Self.collect(connection.answer(query, logger: logger))
        }
    }

    static func collect(_ rows: [PostgresRow]) -> [PostgresRow] { rows }
}

extension PostgresConnection {
    /// How long a statement's answer may take on the client's side: longer than the server's `statement_timeout`.
    static let answerDeadline = Duration.seconds(45)

    /// Runs `query` and collects its rows — failing fast on a connection already closed, and after
    /// ``answerDeadline`` on one that never answers.
    ///
    /// postgres-nio 1.33 loses a query written to a connection whose channel has closed (the server ended the
    /// session, a restart): the write's failure is dropped, and the query's promise is never completed. So the
    /// connection is checked first, and the statement runs in a task of its own that the caller stops waiting for at
    /// the deadline (the connection is then closed, which fails a statement still in flight).
    @discardableResult
    func answer(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        guard !isClosed else { throw ConnectionLost(reason: "the connection was closed") }
        let outcome = AnswerOutcome()
        let connection = self
        let statement = Task {
            do {
                var rows: [PostgresRow] = []
                for try await row in try await connection.query(query, logger: logger) { rows.append(row) }
                outcome.settle(.success(rows))
            } catch {
                outcome.settle(.failure(error))
            }
        }
        let timer = Task {
            try await Task.sleep(for: Self.answerDeadline)
            outcome.settle(.failure(ConnectionLost(reason: "no answer within \(Self.answerDeadline)")))
            try? await connection.close()
        }
        defer { timer.cancel() }
        _ = statement
        return try await outcome.value()
    }
}

/// A connection that closed under a statement, or a statement that got no answer in time.
struct ConnectionLost: Error {
    let reason: String
}

/// The first of a statement's answer and its deadline.
private final class AnswerOutcome: Sendable {
    private let state = Mutex<
        (result: Result<[PostgresRow], any Error>?, waiter: CheckedContinuation<[PostgresRow], any Error>?)
    >(
        (nil, nil)
    )

    func settle(_ result: Result<[PostgresRow], any Error>) {
        let waiter = state.withLock { state -> CheckedContinuation<[PostgresRow], any Error>? in
            guard case .none = state.result else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: result)
    }

    func value() async throws -> [PostgresRow] {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<[PostgresRow], any Error>? in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
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
