import CredentialVault
public import Foundation
import NIOCore
import PostgresNIO

// Single-use claims shared by every instance: the `single_use` table, one upsert per claim.
extension PostgresCredentialStore {
    /// Two statements: a bounded batch of other expired claims deleted (`FOR UPDATE SKIP LOCKED`, so that pruning
    /// instances never wait for one another), then the claim as one `INSERT … ON CONFLICT DO UPDATE … WHERE` whose
    /// update applies only to an expired claim of the key. Concurrent claims of one key wait for the first one's
    /// row and then see it: exactly one returns a row. Expiry is by this process's clock, as the caller checks it.
    public func claimSingleUse(_ key: [UInt8], expiresAt: Date) async throws -> Bool {
        let expiry = try SingleUseClaims.checked(key, expiresAt: expiresAt)
        let now = Date().timeIntervalSince1970
        var prune = PostgresBindings()
        prune.append(now)
        prune.append(ByteBuffer(bytes: key))
        prune.append(Int64(SingleUseClaims.pruneBatch))
        _ = try await rows(
            PostgresQuery(
                unsafeSQL: """
                    DELETE FROM \(sql.singleUse) WHERE key IN (
                        SELECT key FROM \(sql.singleUse) WHERE expires_at <= $1::float8 AND key <> $2::bytea
                        ORDER BY expires_at LIMIT $3::bigint FOR UPDATE SKIP LOCKED
                    )
                    """,
                binds: prune
            )
        )
        var claim = PostgresBindings()
        claim.append(ByteBuffer(bytes: key))
        claim.append(expiry)
        claim.append(now)
        let claimed = try await rows(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(sql.singleUse) AS claim (key, expires_at) VALUES ($1::bytea, $2::float8)
                    ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at
                    WHERE claim.expires_at <= $3::float8 RETURNING 1
                    """,
                binds: claim
            )
        )
        return !claimed.isEmpty
    }
}
