public import Foundation

/// Where a vault keeps its header, key slots and sealed account records: the seam a store driver implements.
///
/// **Rows, not records.** A store reads and writes rows of primitive column values (``StoreRow``, ``StoreValue``)
/// and never interprets them beyond what its queries compare; the core decodes and validates every row it is handed
/// (types, ranges, and — by opening a sealed value — the authenticated metadata), so a tampered row is an
/// integrity error whatever the driver. A store sees only sealed values, never a plaintext secret.
///
/// **The contract.** Implementations: `SQLiteCredentialStore` (embedded, the default), `InMemoryCredentialStore`
/// (tests, one process) and `PostgresCredentialStore` (shared by several instances). Each passes the conformance suite
/// (`Tests/CredentialStoreConformance`), which checks every clause below.
/// - Every method is one transaction, durable on return (a crash leaves the change whole or absent), and touches
///   only the rows it names: reading or writing one account is O(log n) in the number of accounts.
/// - **Compare-and-swap.** Writes of an account carry the generation the caller read; a row whose generation
///   moved on, or a row sealed under a key id that is no longer the header's (a rotation ran), is refused with
///   ``VaultError/Code/conflict`` and nothing changes. `conflict` always means "someone wrote first: re-read and
///   retry"; it is never an integrity problem.
/// - **Locks.** ``withAccountLock(_:timeout:isolation:_:)`` is per *vault* and account: every user of the same
///   storage respects it — other tasks, other processes, other hosts where the store is shared — whatever path
///   or URL they reached the vault by. Its body may call any store method (a driver that holds the lock on one
///   connection runs the body's queries on others). A lock not obtained within `timeout` throws
///   ``VaultError/Code/lockTimeout``; a holder that dies releases it.
/// - **Atomic against every other call.** A method's checks and its writes form one unit that no concurrent call of
///   any method (in any process) can interleave with: `removeSlot` comparing the slot rows, `insert` checking the
///   header's key id against a concurrent `rotate`. SQLite gets this from its single writer (IMMEDIATE
///   transactions); a server database needs SERIALIZABLE transactions, or row locks on the header and slot rows
///   (`SELECT … FOR UPDATE`), with serialization failures reported as `conflict` and a duplicate name on insert as
///   `alreadyExists`.
/// - **Values round-trip exactly.** A row read back holds the same ``StoreValue`` cases and bits that were written:
///   the core compares rows and values for equality (key ids, wrapped keys, the slot rows of a rotation). A store
///   that cannot hold a value as given (PostgreSQL: U+0000 in text) refuses the write with
///   ``VaultError/Code/invalidInput``; a non-finite real is stored as NULL.
/// - **Names order by bytes** (UTF-8, `COLLATE "C"` / SQLite's BINARY), and `after` in a ``DueAccountQuery`` means
///   strictly greater in that order. ``DueAccountQuery/matches(_:)`` is the normative predicate of
///   ``dueAccountRows(_:)``, including its rule that rows with values which are not valid dates are selected.
/// - **Counts** (``accountStatusCounts(now:)``) come from one aggregate query that reads no sealed column, through
///   an index on status and next attempt where the store has indexes; ``AccountStatusCount/isBackingOff(_:now:)``
///   is its normative predicate.
/// - **Single use.** ``claimSingleUse(_:expiresAt:)`` is one atomic check-and-insert for every user of the storage
///   (other tasks, processes and hosts): among concurrent claims of one key exactly one returns `true`. A claim
///   counts until its `expiresAt` by the clock of the process that claims: an expired claim no longer counts (the
///   next claim of its key returns `true`), and each call deletes a bounded batch of other expired claims, oldest
///   first, through an index on the expiry.
/// - `rotate` and `upgradeFormat` may report an account deleted meanwhile as ``VaultError/Code/notFound`` rather than
///   `conflict`; either way nothing changed.
/// - Locks are not reentrant: a body must not take the same account's lock again.
/// - Errors are ``VaultError``s, with messages free of SQL arguments and secrets.
public protocol CredentialStore: Sendable {
    /// Where this store keeps its vault, canonically (SQLite: the file's real path; PostgreSQL:
    /// `postgres://host:port/database?schema=…`, without the user): recorded in the header at creation, so that
    /// `verify` can warn when a vault is opened somewhere else (a copy, which must never refresh beside the original).
    var storageLocation: String { get }

    /// Records `location` as the vault's location in the header (``VaultHeaderColumn/location``).
    func recordLocation(_ location: String) async throws

    /// The header row, or `nil` if no vault was created in this store.
    func headerRow() async throws -> VaultHeaderRow?

    /// Writes the header and the first slots (their ids are assigned). Throws ``VaultError/Code/vaultExists`` if a
    /// header exists.
    func createVault(header: VaultHeaderRow, slots: [KeySlotRow]) async throws

    /// Every key slot row, ordered by id.
    func slotRows() async throws -> [KeySlotRow]

    /// Stores `slot` (its `id` column is ignored) and returns the id assigned. Throws ``VaultError/Code/conflict``
    /// if its `key_id` is no longer the header's.
    func addSlot(_ slot: KeySlotRow) async throws -> Int64

    /// Replaces slot `id` with `slot` if the stored row's `wrapped_key` is still `expectedWrappedKey` and `slot`'s
    /// `key_id` is the header's (else ``VaultError/Code/conflict``). Throws ``VaultError/Code/notFound`` if the slot
    /// is gone.
    func replaceSlot(id: Int64, with slot: KeySlotRow, expectedWrappedKey: StoreValue) async throws

    /// Deletes slot `id` if the slot rows are still exactly `expectedSlots` (else ``VaultError/Code/conflict``),
    /// so that the caller's check that another slot still opens the vault holds. Throws
    /// ``VaultError/Code/notFound`` if there is no such slot.
    func removeSlot(id: Int64, expectedSlots: [KeySlotRow]) async throws

    /// The row of `name`, or `nil`.
    func accountRow(named name: AccountName) async throws -> AccountRow?

    /// Every account row, ordered by name.
    func accountRows() async throws -> [AccountRow]

    /// A page of account rows, every column, ordered by name in byte order: at most `limit` rows, those whose names
    /// come after `after` (from the first when `nil`). Reading every account page by page keeps the memory of
    /// `list` or `verify` bounded whatever the number of accounts; the pages are not one snapshot.
    func accountRows(after: String?, limit: Int) async throws -> [AccountRow]

    /// The metadata rows of the accounts that `query` selects (``DueAccountQuery``), ordered by name, at most
    /// `query.limit`: the sealed columns are NULL (not read), and the query uses an index rather than reading
    /// every row.
    func dueAccountRows(_ query: DueAccountQuery) async throws -> [AccountRow]

    /// How many accounts hold each stored status value, split by whether their next attempt time is after `now`
    /// (``AccountStatusCount/isBackingOff(_:now:)``), in any order, each group of at least one account: one
    /// aggregate query that reads no sealed column (it scans an index, O(n) in the number of accounts: for a gauge
    /// polled now and then, not for a hot path).
    func accountStatusCounts(now: Date) async throws -> [AccountStatusCount]

    /// Inserts a new row. Throws ``VaultError/Code/alreadyExists`` if the name is taken, and
    /// ``VaultError/Code/conflict`` if its `key_id` is no longer the header's.
    func insert(_ row: AccountRow) async throws

    /// Writes `row` if the stored generation is still `expectedGeneration` (compare-and-swap) and its `key_id` is
    /// the header's; the row carries the new generation. Throws ``VaultError/Code/conflict`` or
    /// ``VaultError/Code/notFound`` if the account is gone.
    func update(_ row: AccountRow, expectedGeneration: Int64) async throws

    /// Import in one transaction, all or nothing: writes every row of `rows`. A row whose name is a key of
    /// `expectedGenerations` is written over the stored row by compare-and-swap on that generation
    /// (``VaultError/Code/conflict`` if it moved on or the row is gone); any other row is inserted
    /// (``VaultError/Code/alreadyExists`` if the name is taken). Every row's `key_id` must be the header's (else
    /// `conflict`). Any failure rolls every row back.
    func importAccounts(_ rows: [AccountRow], replacing expectedGenerations: [AccountName: Int64]) async throws

    /// Deletes `name`; returns whether it existed.
    func deleteAccount(named name: AccountName) async throws -> Bool

    /// Runs `body` while holding the exclusive lock of account `name` (see the contract above). `body` runs in the
    /// caller's isolation (`isolation` defaults to `#isolation` through the extension below).
    func withAccountLock<T: Sendable>(
        _ name: AccountName,
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T

    /// Runs `body` while holding the lock of every account at once: waits for every holder to finish and keeps new
    /// ones out until `body` returns. A data-key rotation runs under it, so that a refresh in flight can always
    /// store its rotated token. Throws ``VaultError/Code/lockTimeout`` if not obtained within `timeout`.
    func withEveryAccountLock<T: Sendable>(
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T

    /// Format upgrade in one transaction: writes each of `rows` by compare-and-swap on `expectedGenerations` (as
    /// ``update(_:expectedGeneration:)`` does), then, if `formatVersion` is given, sets the header's format version
    /// to it — provided the store still holds exactly `accountCount` accounts. Any mismatch rolls everything back
    /// with ``VaultError/Code/conflict``.
    func upgradeFormat(
        rows: [AccountRow],
        expectedGenerations: [AccountName: Int64],
        formatVersion: Int?,
        accountCount: Int
    ) async throws

    /// Data-key rotation in one transaction: sets the header's `key_id` to `newKeyID` if it is still
    /// `expectedKeyID`, replaces every slot with `slots` (keeping their ids) if the slot rows are still exactly
    /// `expectedSlots`, and writes every row of `rows` by compare-and-swap on `expectedGenerations`; `rows` must
    /// be every account in the store. Any mismatch rolls everything back with ``VaultError/Code/conflict``.
    func rotate(
        expectedKeyID: Int64,
        newKeyID: Int64,
        expectedSlots: [KeySlotRow],
        slots: [KeySlotRow],
        rows: [AccountRow],
        expectedGenerations: [AccountName: Int64]
    ) async throws

    /// Claims `key` until `expiresAt`, atomically (see the contract above): returns `true` if no unexpired claim of
    /// `key` is stored (and stores this one), `false` if one is (and changes nothing). Claims whose `expiresAt` is not
    /// after the current time are expired: the one of `key` is replaced, others are deleted in a bounded batch.
    /// Throws ``VaultError/Code/invalidInput`` for a key that is empty or longer than 1024 bytes, or a date that is
    /// not finite.
    func claimSingleUse(_ key: [UInt8], expiresAt: Date) async throws -> Bool

    /// Checks the storage itself (SQLite: `PRAGMA quick_check`, file permissions, the file's identity); returns one
    /// error per problem found (``VaultError/Code/unsafePermissions`` for permissions).
    func checkStorage() async throws -> [VaultError]
}

extension CredentialStore {
    /// ``withAccountLock(_:timeout:isolation:_:)`` in the caller's isolation.
    public func withAccountLock<T: Sendable>(
        _ name: AccountName,
        timeout: Duration,
        _ body: () async throws -> T,
        isolation: isolated (any Actor)? = #isolation
    ) async throws -> T {
        try await withAccountLock(name, timeout: timeout, isolation: isolation, body)
    }

    /// ``withEveryAccountLock(timeout:isolation:_:)`` in the caller's isolation.
    public func withEveryAccountLock<T: Sendable>(
        timeout: Duration,
        _ body: () async throws -> T,
        isolation: isolated (any Actor)? = #isolation
    ) async throws -> T {
        try await withEveryAccountLock(timeout: timeout, isolation: isolation, body)
    }
}
