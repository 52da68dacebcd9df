import CredentialVault
import GRDB
import Synchronization

/// Point reads on the calling task: the per-request path (``SQLiteCredentialStore/accountRow(named:)``, and the
/// header and slots read when a vault opens) without the
/// two thread hops and the read-only transaction of GRDB's asynchronous `read` (BENCHMARKS.md, "Reading one
/// account").
///
/// A second connection to the vault file, used for one statement at a time: a single `SELECT` is its own read
/// transaction, a consistent snapshot of the last commit (WAL mode: it never waits for this process's or another's
/// writer). It must never make a task of Swift's cooperative pool wait, so it runs only when both hold:
/// - the connection is free (a try-lock; a task that finds it taken does not queue behind it), and
/// - SQLite answers at once: the connection's busy mode is an immediate error, so a read that would have to wait
///   (a checkpoint restarting the WAL, a recovery after a crash) fails with `SQLITE_BUSY` instead of sleeping.
/// In either case the read returns `nil` and the caller takes the queued path (``SQLiteCredentialStore/queue``, on
/// GRDB's dispatch queue, with ``SQLiteCredentialStore/busyTimeout``).
final class PointReader: Sendable {
    private let connection: Mutex<DatabaseQueue?>

    /// Opens a connection to the file at `path` (already checked and migrated by the store).
    init(path: String) throws {
        var config = Configuration()
        config.busyMode = .immediateError
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA query_only = ON")
        }
        connection = Mutex(try DatabaseQueue(path: path, configuration: config))
    }

    /// `body`'s result, or `nil` when the read would have to wait: the connection is in use, or SQLite is busy.
    /// Other errors are thrown. `body` must run one statement (its consistency is that statement's snapshot).
    func read<T: Sendable>(_ body: (Database) throws -> T) throws -> T? {
        let outcome: Result<T, any Error>?? = connection.withLockIfAvailable { queue in
            guard let queue else { return nil }
            // Uncontended (the try-lock admits one thread at a time), GRDB's serial queue runs `body` on this
            // thread.
            return Result { try queue.inDatabase(body) }
        }
        guard case .some(.some(let result)) = outcome else { return nil }
        do {
            return try result.get()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            return nil
        }
    }

    /// Closes the connection; later reads return `nil`.
    func close() throws {
        try connection.withLock { queue in
            try queue?.close()
            queue = nil
        }
    }
}

extension SQLiteCredentialStore {
    /// `body` (one statement: a header, the slots, an account) through ``PointReader`` when it need not wait, else
    /// on the queue.
    func pointRead<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            if let answer = try pointReader.read(body) { return answer }
        } catch let error as DatabaseError {
            throw Self.mapped(error)
        }
        return try await run(queue.read, body)
    }
}
