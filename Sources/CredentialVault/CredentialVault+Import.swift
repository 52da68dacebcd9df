import Logging

/// What ``CredentialVault/importAccounts(_:replace:lockTimeout:)`` wrote.
public struct ImportSummary: Sendable, Equatable {
    /// The accounts that did not exist before, in the order given.
    public var added: [AccountName]
    /// The accounts written over an existing one (only with `replace`), in the order given.
    public var replaced: [AccountName]

    /// Creates a summary.
    public init(added: [AccountName] = [], replaced: [AccountName] = []) {
        self.added = added
        self.replaced = replaced
    }
}

extension CredentialVault {
    /// How many existing names an ``importAccounts(_:replace:lockTimeout:)`` refusal lists.
    static let namesListed = 10

    /// Imports accounts — from a backup (``VaultBackup``) or a migration — all or nothing, in one store transaction:
    /// either every entry is stored or none is.
    ///
    /// Each account keeps what it carries: status, last error, creation, update and refresh times, next attempt,
    /// consecutive failures and generation (at least 1). Its secrets are sealed under this vault's data key, bound
    /// to this vault. An account written over an existing one gets generation `max(given, stored + 1)`, so that a
    /// compare-and-swap prepared against the old record can never overwrite the imported one.
    ///
    /// The import runs under ``CredentialStore/withEveryAccountLock(timeout:isolation:_:)``: a refresh in flight in
    /// any process finishes (and commits) first, and none starts until the import is stored. A data-key rotation by
    /// another process meanwhile is picked up and the entries sealed again.
    /// - Parameters:
    ///   - entries: the accounts; no name twice.
    ///   - replace: write over accounts that exist already. Without it, any existing name refuses the whole import.
    ///   - lockTimeout: how long to wait for refreshes in flight.
    /// - Throws: ``VaultError``: ``VaultError/Code/alreadyExists`` naming the existing accounts (without `replace`);
    ///   ``VaultError/Code/invalidInput`` for a name given twice or an entry without a client secret;
    ///   ``VaultError/Code/lockTimeout``; ``VaultError/Code/conflict`` if accounts changed in a way a retry would not
    ///   fix (run it again). Nothing is written when it throws.
    @discardableResult
    public func importAccounts(
        _ entries: [ImportedAccount],
        replace: Bool,
        lockTimeout: Duration = .seconds(60)
    ) async throws -> ImportSummary {
        var seen: Set<AccountName> = []
        for entry in entries {
            guard seen.insert(entry.account.name).inserted else {
                throw VaultError.invalid("'\(entry.account.name)' appears more than once in the import")
            }
            guard entry.secrets.clientSecret != nil else {
                throw VaultError.invalid("account '\(entry.account.name)' needs its client secret (every mode uses it)")
            }
        }
        guard !entries.isEmpty else { return ImportSummary() }
        return try await store.withEveryAccountLock(timeout: lockTimeout) {
            do {
                return try await importLocked(entries, replace: replace)
            } catch let error as VaultError where error.code == .conflict {
                // Another process rotated the data key: take the new one and seal again.
                guard try await reloadKeyIfRotated() else { throw error }
                return try await importLocked(entries, replace: replace)
            }
        }
    }

    /// One attempt, under every account's lock: read the generations of the names that exist, seal, write.
    private func importLocked(_ entries: [ImportedAccount], replace: Bool) async throws -> ImportSummary {
        var existing: [AccountName: Int64] = [:]
        for entry in entries {
            guard let row = try await store.accountRow(named: entry.account.name) else { continue }
            // The raw generation, not a decoded record: a damaged account can still be replaced by its backup.
            guard case .integer(let generation) = row[.generation] else {
                throw VaultError.integrity("the generation of '\(entry.account.name)' is not a number")
            }
            existing[entry.account.name] = generation
        }
        if !replace && !existing.isEmpty {
            let names = entries.map(\.account.name).filter { existing[$0] != nil }
            let listed = names.prefix(Self.namesListed).map { "'\($0)'" }.joined(separator: ", ")
            let more = names.count > Self.namesListed ? " and \(names.count - Self.namesListed) more" : ""
            throw VaultError(
                .alreadyExists,
                "\(names.count) account(s) exist already: \(listed)\(more); nothing was imported (replace them with "
                    + "--replace)"
            )
        }
        let key = dataKey
        var rows: [AccountRow] = []
        rows.reserveCapacity(entries.count)
        var summary = ImportSummary()
        for entry in entries {
            var account = entry.account
            let stored = existing[account.name]
            let given = min(max(account.generation, 1), StoredAccount.maximumGeneration - 1)
            if let stored {
                account.generation = max(given, try Self.nextGeneration(after: stored, account.name))
                summary.replaced.append(account.name)
            } else {
                account.generation = given
                summary.added.append(account.name)
            }
            rows.append(seal(account, entry.secrets, with: key).row)
        }
        try await store.importAccounts(rows, replacing: existing)
        logger.info(
            "accounts imported",
            metadata: ["added": "\(summary.added.count)", "replaced": "\(summary.replaced.count)"]
        )
        return summary
    }
}
