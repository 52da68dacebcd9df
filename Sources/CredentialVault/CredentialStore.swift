public import Foundation

/// The vault-wide record: its id (bound into every sealed value) and the current data key id.
public struct VaultHeader: Sendable, Equatable {
    /// The on-disk format this package writes: 2, in which every sealed value also authenticates its account's
    /// metadata (1: values bound to vault, account, field and key only).
    public static let currentFormatVersion = 2
    /// The formats this package opens; earlier ones are upgraded at unlock (``CredentialVault/upgradeFormat()``).
    public static let supportedFormatVersions = 1...currentFormatVersion

    /// 16 random bytes naming the vault; part of every associated data.
    public var vaultID: [UInt8]
    /// The format version.
    public var formatVersion: Int
    /// The id of the data key that seals the records.
    public var keyID: UInt32
    /// When the vault was created.
    public var createdAt: Date

    /// Creates a header.
    public init(vaultID: [UInt8], formatVersion: Int, keyID: UInt32, createdAt: Date) {
        self.vaultID = vaultID
        self.formatVersion = formatVersion
        self.keyID = keyID
        self.createdAt = createdAt
    }
}

/// Where a vault keeps its header, key slots and sealed account records.
///
/// A store sees only sealed values. Every method is one transaction, durable on return, and touches only the
/// rows it names: reading or writing one account is O(log n) in the number of accounts. Implementations:
/// `SQLiteCredentialStore` (embedded, the default) and, later, a PostgreSQL store. Both must pass the same
/// behavioural test suite.
public protocol CredentialStore: Sendable {
    /// The header, or `nil` if no vault was created in this store.
    func header() async throws -> VaultHeader?

    /// Writes the header and the first slots. Throws ``VaultError/Code/vaultExists`` if a header exists.
    func createVault(header: VaultHeader, slots: [KeySlot]) async throws

    /// The key slots that decode, ordered by id (a damaged slot row is left out; see ``slotRecords()``).
    func slots() async throws -> [KeySlot]

    /// Every key slot row, ordered by id, each decoded or with its decoding error naming the slot (for `verify`
    /// and `key list`; unlocking skips damaged slots).
    func slotRecords() async throws -> [Result<KeySlot, VaultError>]

    /// Stores `slot` (its `id` is ignored) and returns it with the id assigned. Throws
    /// ``VaultError/Code/conflict`` if `slot.keyID` is no longer the header's key id (a rotation ran).
    func addSlot(_ slot: KeySlot) async throws -> KeySlot

    /// Replaces slot `previous.id` with `slot` if it still holds `previous`'s wrapped key and `slot` wraps the
    /// header's current key (compare-and-swap; else ``VaultError/Code/conflict``). Throws
    /// ``VaultError/Code/notFound`` if the slot is gone.
    func replaceSlot(_ slot: KeySlot, expecting previous: KeySlot) async throws

    /// Deletes slot `id`. Refuses (``VaultError/Code/invalidInput``) to delete the last slot that wraps the
    /// current key, checked in the same transaction; throws ``VaultError/Code/notFound`` if there is no such slot.
    func removeSlot(id: Int64) async throws

    /// The record of `name`, or `nil`.
    func account(named name: AccountName) async throws -> StoredAccount?

    /// All records, ordered by name. Throws ``VaultError/Code/integrityFailure`` if any row is malformed.
    func accounts() async throws -> [StoredAccount]

    /// All records, ordered by name, each decoded or with its decoding error (for `verify`, which reports every
    /// problem instead of stopping at the first).
    func accountRecords() async throws -> [Result<StoredAccount, VaultError>]

    /// Inserts a new record. Throws ``VaultError/Code/alreadyExists`` if the name is taken, and
    /// ``VaultError/Code/conflict`` if `record.keyID` is no longer the header's key id (a rotation ran).
    func insert(_ record: StoredAccount) async throws

    /// Writes `record` if the stored generation is still `expectedGeneration` (compare-and-swap); the record
    /// carries the new generation. Throws ``VaultError/Code/conflict`` if it changed, or
    /// ``VaultError/Code/notFound`` if the account is gone. Like ``insert(_:)``, refuses a record sealed under
    /// a key id other than the header's.
    func update(_ record: StoredAccount, expectedGeneration: Int64) async throws

    /// Deletes `name`; returns whether it existed.
    func deleteAccount(named name: AccountName) async throws -> Bool

    /// Runs `body` while holding an exclusive lock on account `name` that every user of the same storage
    /// respects: other tasks, other processes (SQLite: an OS file lock that the kernel releases if the holder
    /// dies) and other hosts (PostgreSQL: a database lock). Locks of other accounts are independent. Throws
    /// ``VaultError/Code/lockTimeout`` if the lock is not obtained within `timeout`. `body` runs in the caller's
    /// isolation (`isolation` defaults to `#isolation` through the extension below).
    func withAccountLock<T: Sendable>(
        _ name: AccountName,
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T

    /// Format upgrade in one transaction: writes each of `records` by compare-and-swap on `expectedGenerations` (as
    /// ``update(_:expectedGeneration:)`` does, refusing a key id other than the header's), then, if `formatVersion`
    /// is given, sets the header's format version to it — provided the store still holds exactly `accountCount`
    /// accounts. Any mismatch rolls everything back with ``VaultError/Code/conflict``.
    func upgradeFormat(
        records: [StoredAccount],
        expectedGenerations: [AccountName: Int64],
        formatVersion: Int?,
        accountCount: Int
    ) async throws

    /// Runs `body` while holding the lock of every account at once (the locks of
    /// ``withAccountLock(_:timeout:isolation:_:)``): waits for every holder to finish, and keeps new ones out until
    /// `body` returns. A data-key rotation runs under it, so that a refresh in flight can always store its rotated
    /// token. Throws ``VaultError/Code/lockTimeout`` if the locks are not all obtained within `timeout`.
    func withEveryAccountLock<T: Sendable>(
        timeout: Duration,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> T
    ) async throws -> T

    /// Checks the storage itself (for SQLite, `PRAGMA quick_check`, file permissions, the file's identity); returns
    /// one error per problem found (``VaultError/Code/unsafePermissions`` for permissions).
    func checkStorage() async throws -> [VaultError]

    /// Data-key rotation in one transaction: sets the header's key id to `newKeyID` if it is still
    /// `expectedKeyID`, replaces every slot with `slots` if the stored slots are still `expectedSlots`, and writes
    /// every record in `records` by compare-and-swap on the generations in `expectedGenerations`; `records` must
    /// be every account in the store. Any mismatch rolls everything back with ``VaultError/Code/conflict``.
    func rotate(
        expectedKeyID: UInt32,
        newKeyID: UInt32,
        expectedSlots: [KeySlot],
        slots: [KeySlot],
        records: [StoredAccount],
        expectedGenerations: [AccountName: Int64]
    ) async throws
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
