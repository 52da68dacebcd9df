import Foundation
import Logging

// Upgrading a vault of an earlier format, on the caller's explicit request.
extension CredentialVault {
    /// Upgrades a vault of an earlier format in place, on the caller's explicit request: reseals every record whose
    /// values predate metadata authentication (each then bound to its metadata as stored now, generation + 1), and —
    /// once every record is resealed — sets the header to the current format. One transaction; records that do not
    /// open are left as they are (``verify()`` reports them) and keep the header at the old format. Returns the
    /// metadata of the records resealed.
    ///
    /// The metadata of a format-1 record cannot be checked (that is what format 2 adds), so the upgrade is never
    /// automatic: whoever could write the file before could have changed a token URL, and an attacker holding an
    /// old copy could set a format-2 vault back to format 1 and plant its values. Until the upgrade, format-1 values
    /// do not open at all; the caller (the CLI's `verify --upgrade`) shows what it is about to authenticate.
    @discardableResult
    public func upgradeFormat() async throws -> [Account] {
        guard let header = try await store.header() else { throw VaultError(.noVault, "the vault is gone") }
        let key = dataKey
        var records: [StoredAccount] = []
        var expected: [AccountName: Int64] = [:]
        var damaged = 0
        let all = try await store.accountRecords()
        for result in all {
            guard case .success(let record) = result else {
                damaged += 1
                continue
            }
            guard record.sealed.values.contains(where: { RecordCipher.version(of: $0) != SealedValue.formatVersion })
            else { continue }
            do {
                let secrets = try open(record, with: key, acceptingLegacy: true)
                var account = record.account
                expected[account.name] = account.generation
                account.generation = try Self.nextGeneration(after: account.generation, account.name)
                account.updatedAt = Date()
                records.append(seal(account, secrets, with: key))
            } catch {
                logger.warning("record not upgraded: it does not open", metadata: ["account": "\(record.account.name)"])
                damaged += 1
            }
        }
        let complete = damaged == 0 && header.formatVersion < VaultHeader.currentFormatVersion
        guard !records.isEmpty || complete else { return [] }
        try await store.upgradeFormat(
            records: records,
            expectedGenerations: expected,
            formatVersion: complete ? VaultHeader.currentFormatVersion : nil,
            accountCount: all.count
        )
        logger.notice(
            "vault format upgraded",
            metadata: ["resealed": "\(records.count)", "left_damaged": "\(damaged)", "complete": "\(complete)"]
        )
        return records.map(\.account)
    }

    /// The vault's format version, as the header says now.
    public func formatVersion() async throws -> Int {
        guard let header = try await store.header() else { throw VaultError(.noVault, "the vault is gone") }
        return header.formatVersion
    }
}
