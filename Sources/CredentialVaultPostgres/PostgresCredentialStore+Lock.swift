public import CredentialVault
import Logging
import PostgresNIO
import Synchronization

// Account locks: PostgreSQL session-level advisory locks, on a connection of the lock pool held for the body.
//
// An account's lock is two advisory locks taken together by one statement: the vault's key in shared mode and the
// account's key exclusively; the every-account lock is the vault's key exclusively. Keys are 64 bits of SHA-256
// over a label, the vault id and the account name, so they are the same for every instance that opens the vault
// (by whatever URL) and differ between vaults in one database. Two names whose keys collide (odds 2⁻⁶⁴ per pair)
// would only wait for each other.
//
// The lock is polled with `pg_try_advisory_*` (never a blocking `pg_advisory_lock`, which would hold a server
// backend per waiter and ignore the timeout), with backoff from 2 ms to 50 ms. A waiter holds a connection while it
// polls; the lock pool is separate from the query pool, so that lock holders and waiters never take the connections
// their bodies' queries need. The server releases a session's locks when its connection ends — a holder that dies
// (SIGKILL, a lost host) frees its locks once the server notices the connection is gone.
extension PostgresCredentialStore {
    static func lockKey(label: String, _ parts: [[UInt8]]) -> Int64 {
        var input = Array(label.utf8)
        for part in parts {
            input.append(0)
            input += part
        }
        let digest = Sodium.sha256(input)
        return digest.prefix(8).reduce(Int64(0)) { ($0 << 8) | Int64($1) }
    }

    /// The vault id, read once (it never changes); a store without a vault has no locks to take.
    func vaultID() async throws -> [UInt8] {
        if let id = cachedVaultID.withLock({ $0 }) { return id }
        guard let header = try await headerRow(), let id = header[.vaultID].blob else {
            throw VaultError(.noVault, "\(location) holds no vault")
        }
        cachedVaultID.withLock { $0 = id }
        return id
    }

    public func withAccountLock<T: Sendable>(
        _ name: AccountName,
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        let id = try await vaultID()
        let vault = Self.lockKey(label: "sendcloud-vault/vault-lock/v1", [id])
        let account = Self.lockKey(label: "sendcloud-vault/account-lock/v1", [id, Array(name.rawValue.utf8)])
        let take: PostgresQuery = """
            SELECT CASE WHEN pg_try_advisory_lock_shared(\(vault)) THEN
                CASE WHEN pg_try_advisory_lock(\(account)) THEN true ELSE NOT pg_advisory_unlock_shared(\(vault)) END
            ELSE false END
            """
        let release: PostgresQuery = "SELECT pg_advisory_unlock(\(account)) AND pg_advisory_unlock_shared(\(vault))"
        return try await holding(take, release, what: "account '\(name)'", timeout: timeout, body)
    }

    public func withEveryAccountLock<T: Sendable>(
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        let vault = Self.lockKey(label: "sendcloud-vault/vault-lock/v1", [try await vaultID()])
        return try await holding(
            "SELECT pg_try_advisory_lock(\(vault))",
            "SELECT pg_advisory_unlock(\(vault))",
            what: "every account",
            timeout: timeout,
            body
        )
    }

    /// Leases a lock connection, polls `take` until it answers true or `timeout` passes, runs `body`, then runs
    /// `release` — and closes the connection instead of returning it to the pool if the release did not answer true,
    /// so that a pooled connection never carries a lock.
    private func holding<T: Sendable>(
        _ take: PostgresQuery,
        _ release: PostgresQuery,
        what: String,
        timeout: Duration,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        let timedOut: @Sendable () -> VaultError = {
            VaultError(.lockTimeout, "the lock of \(what) stayed held by another process for \(timeout)")
        }
        let logger = logger
        let outcome: Result<T, any Error> = try await withLease(from: locks, within: timeout, orThrow: timedOut) {
            connection in
            do {
                var pause = Duration.milliseconds(2)
                while true {
                    let rows = try await Self.collect(connection.query(take, logger: logger))
                    if try rows.first?.decode(Bool.self) == true { break }
                    guard clock.now + pause < deadline else { throw timedOut() }
                    try await Task.sleep(for: pause)
                    pause = min(pause * 2, .milliseconds(50))
                }
            } catch {
                // Whatever the server did with a statement whose answer was lost, a closed session holds no lock.
                try? await connection.close()
                throw mapped(error)
            }
            // The body's own errors pass through untouched.
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            let released = try? await Self.collect(connection.query(release, logger: logger)).first?.decode(Bool.self)
            if released != true {
                logger.warning("closing a lock connection whose release failed", metadata: ["lock": "\(what)"])
                try? await connection.close()
            }
            return result
        }
        return try outcome.get()
    }
}
