public import CredentialVault
import Logging
import PostgresNIO
import Synchronization

// Account locks: PostgreSQL session-level advisory locks, on a connection of the lock pool held for the body, and
// a lease row that outlives the session.
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
// their bodies' queries need. The server releases a session's locks when its connection ends.
//
// **The lease.** An advisory lock ends with its session — also when the *session* dies (a server restart, a
// failover, a dropped connection) while the *holder* lives on, in the middle of a refresh whose grant is already on
// its way to Sendcloud. Another instance taking the lock then would send the same refresh token again, and Sendcloud
// would revoke the chain. So the holder of an account lock also claims a row in `account_lease` (holder id, expiry
// by the server's clock), renews it every ``Configuration/lockLease``/3 through the query pool while its body runs,
// and deletes it when it releases the lock. A caller that gets the advisory lock but finds another holder's live
// lease waits (within its lock timeout) until the lease is deleted or expires: a holder that is still working keeps
// it alive over new connections; a holder that died (SIGKILL, a lost host) stops renewing, and its lease expires
// within ``Configuration/lockLease``. The every-account lock waits until no lease is live. A lease that claims to
// run for more than twice the lease length was not written by a holder (a planted or corrupted row) and is ignored,
// so that it cannot block an account forever. A renewal that fails is retried after 250 ms. A database outage longer
// than the lease while a refresh is in flight would reopen the window; the default lease (10 s) is well above a
// restart's few seconds.
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
        let holder = Self.randomHolderID()
        let now = "extract(epoch FROM clock_timestamp())::float8"
        let lease = sql.lease
        func leaseBinds(_ extra: Double? = nil) -> PostgresBindings {
            var binds = PostgresBindings()
            binds.append(name.rawValue)
            binds.append(holder)
            if let extra { binds.append(extra) }
            return binds
        }
        let seconds = Double(configuration.lockLease.components.seconds)
        let claim = PostgresQuery(
            unsafeSQL: """
                WITH claimed AS (
                    INSERT INTO \(lease) (name, holder, until) VALUES ($1::text, $2::text, \(now) + $3::float8)
                    ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
                    WHERE \(lease).until <= \(now) OR \(lease).until > \(now) + 2 * $3::float8 RETURNING 1
                ) SELECT EXISTS (SELECT 1 FROM claimed)
                """,
            binds: leaseBinds(seconds)
        )
        let renew = PostgresQuery(
            unsafeSQL:
                "UPDATE \(lease) SET until = \(now) + $3::float8 WHERE name = $1::text AND holder = $2::text RETURNING 1",
            binds: leaseBinds(seconds)
        )
        let drop = PostgresQuery(
            unsafeSQL: "DELETE FROM \(lease) WHERE name = $1::text AND holder = $2::text",
            binds: leaseBinds()
        )
        var release = PostgresQuery(
            unsafeSQL: """
                WITH dropped AS (DELETE FROM \(lease) WHERE name = $1::text AND holder = $2::text)
                SELECT pg_advisory_unlock($3::bigint) AND pg_advisory_unlock_shared($4::bigint)
                """,
            binds: leaseBinds()
        )
        release.binds.append(account)
        release.binds.append(vault)
        let unlock: PostgresQuery = "SELECT pg_advisory_unlock(\(account)) AND pg_advisory_unlock_shared(\(vault))"
        return try await holding(
            LockPlan(take: take, settle: claim, release: release, unlockOnly: unlock, lease: (renew, drop)),
            what: "account '\(name)'",
            timeout: timeout,
            body
        )
    }

    public func withEveryAccountLock<T: Sendable>(
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T {
        let vault = Self.lockKey(label: "sendcloud-vault/vault-lock/v1", [try await vaultID()])
        let unlock: PostgresQuery = "SELECT pg_advisory_unlock(\(vault))"
        let now = "extract(epoch FROM clock_timestamp())::float8"
        var noLiveLease = PostgresQuery(
            unsafeSQL:
                "SELECT NOT EXISTS (SELECT 1 FROM \(sql.lease) WHERE until > \(now) AND until <= \(now) + 2 * $1::float8)"
        )
        noLiveLease.binds.append(Double(configuration.lockLease.components.seconds))
        return try await holding(
            LockPlan(
                take: "SELECT pg_try_advisory_lock(\(vault))",
                settle: noLiveLease,
                release: unlock,
                unlockOnly: unlock,
                lease: nil
            ),
            what: "every account",
            timeout: timeout,
            body
        )
    }

    /// The statements of one lock: `take` and `settle` are polled (each until it answers true), `release` ends it
    /// (and drops the lease), `unlockOnly` gives the advisory lock back when `settle` timed out; `lease` renews and
    /// drops the lease row over the query pool.
    private struct LockPlan: Sendable {
        let take: PostgresQuery
        let settle: PostgresQuery
        let release: PostgresQuery
        let unlockOnly: PostgresQuery
        let lease: (renew: PostgresQuery, drop: PostgresQuery)?
    }

    private static func randomHolderID() -> String {
        (0..<16).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.joined(separator: ".")
    }

    /// Leases a lock connection, polls the plan's `take` and then its `settle` until each answers true or `timeout`
    /// passes, runs `body` (renewing the lease meanwhile), then runs `release` — and closes the connection instead of
    /// returning it to the pool if the release did not answer true, so that a pooled connection never carries a lock.
    private func holding<T: Sendable>(
        _ plan: LockPlan,
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
        func poll(_ query: PostgresQuery, _ connection: PostgresConnection) async throws {
            var pause = Duration.milliseconds(2)
            while true {
                let rows = try await connection.answer(query, logger: logger)
                if try rows.first?.decode(Bool.self) == true { return }
                guard clock.now + pause < deadline else { throw timedOut() }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(50))
            }
        }
        let outcome: Result<T, any Error> = try await withLease(from: locks, within: timeout, orThrow: timedOut) {
            connection in
            do {
                try await poll(plan.take, connection)
            } catch {
                // Whatever the server did with a statement whose answer was lost, a closed session holds no lock.
                try? await connection.close()
                throw mapped(error)
            }
            do {
                try await poll(plan.settle, connection)
            } catch {
                if (try? await connection.answer(plan.unlockOnly, logger: logger).first?.decode(Bool.self)) != true {
                    try? await connection.close()
                }
                if let error = error as? VaultError, error.code == .lockTimeout {
                    throw VaultError(
                        .lockTimeout,
                        "the lock of \(what) is free, but a holder whose database session ended is still at work "
                            + "(its row in account_lease stayed live for \(timeout)); run the command again"
                    )
                }
                throw mapped(error)
            }
            let renewal = plan.lease.map { lease in
                Task { [self] in
                    let every = configuration.lockLease / 3
                    var pause = every
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: pause) } catch { return }
                        do {
                            let renewed = try await rows(lease.renew)
                            if renewed.isEmpty {
                                logger.warning("the lease of a held lock was taken over", metadata: ["lock": "\(what)"])
                            }
                            pause = every
                        } catch {
                            // A failed renewal (the database restarting) is retried soon, not a period later.
                            logger.debug("lease renewal failed", metadata: ["lock": "\(what)", "error": "\(error)"])
                            pause = .milliseconds(250)
                        }
                    }
                }
            }
            // The body's own errors pass through untouched.
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            renewal?.cancel()
            await renewal?.value
            let released = try? await connection.answer(plan.release, logger: logger).first?.decode(Bool.self)
            if released != true {
                logger.warning("closing a lock connection whose release failed", metadata: ["lock": "\(what)"])
                try? await connection.close()
                if let lease = plan.lease { _ = try? await rows(lease.drop) }
            }
            return result
        }
        return try outcome.get()
    }
}
