import Foundation
import Logging

// Verification: every record opened, every slot checked, the storage itself checked; reads only.
extension CredentialVault {
    /// Opens every sealed value of every account and checks every slot's key id and the storage itself; returns the
    /// problems found (none when the vault is sound) with the number of account and slot rows checked. Reads only.
    /// Account rows read at a time by ``verify()``.
    static let verifyPageSize = 500

    public func verify() async throws -> VerificationReport {
        typealias Problem = VerificationReport.Problem
        var problems = try await store.checkStorage().map {
            Problem(message: "storage: \($0.message)", code: $0.code)
        }
        let key = dataKey
        let slotRecords = try await Self.checkedSlotRecords(store)
        for result in slotRecords {
            switch result {
            case .success(let slot) where slot.keyID != key.id:
                problems.append(
                    Problem(message: "key slot \(slot.id) wraps key \(slot.keyID), not the current key \(key.id)")
                )
            case .success: break
            case .failure(let error): problems.append(Problem(message: error.message + " (skipped at unlock)"))
            }
        }
        if let header = try await store.header(), header.formatVersion < VaultHeader.currentFormatVersion {
            problems.append(
                Problem(
                    message: "the vault is still in format \(header.formatVersion) (metadata not authenticated): "
                        + "check its accounts' token URLs and client ids, then upgrade it (verify --upgrade)"
                )
            )
        }
        func check(_ result: Result<StoredAccount, VaultError>) {
            switch result {
            case .success(let record):
                do {
                    _ = try open(record, with: key, acceptingLegacy: true)
                    if record.sealed.values.contains(where: {
                        RecordCipher.version(of: $0) != SealedValue.formatVersion
                    }) {
                        problems.append(
                            Problem(
                                account: record.account.name,
                                message: "sealed in format 1: its mode, client id, token URL and scopes are not "
                                    + "authenticated, so it is not used; check them, then upgrade the vault "
                                    + "(sendcloud-vault verify --upgrade)"
                            )
                        )
                    }
                } catch {
                    problems.append(Problem(account: record.account.name, message: error.message))
                }
            case .failure(let error):
                problems.append(Problem(message: error.message))
            }
        }
        // Page by page, so that verify's memory does not grow with the number of accounts. A row whose name is not
        // text (tampered) ends the paging; the count below catches any row the pages did not reach.
        var accountCount = 0
        var after: String?
        repeat {
            let rows = try await store.accountRows(after: after, limit: Self.verifyPageSize)
            accountCount += rows.count
            after = rows.count == Self.verifyPageSize ? rows.last?[.name].text : nil
            for row in rows { check(Result { () throws(VaultError) in try StoredAccount(row: row) }) }
        } while after != nil
        let stored = try await store.accountStatusCounts(now: Date()).map(\.count).reduce(0, +)
        if stored != accountCount {
            problems.append(
                Problem(
                    message: "the store holds \(stored) account rows but \(accountCount) were read in name order "
                        + "(a row whose name is not text?)",
                    code: .integrityFailure
                )
            )
        }
        var report = VerificationReport(
            problems: problems,
            accountCount: max(stored, accountCount),
            slotCount: slotRecords.count
        )
        report.warnings = try await locationWarnings()
        return report
    }

    /// A warning when the vault is opened away from the location recorded in its header: likely a copy. Two live
    /// copies of one vault must never both refresh: each would spend the same rotating refresh token, and the token
    /// endpoint revokes the tenant's whole token chain.
    func locationWarnings() async throws -> [String] {
        guard let header = try await store.header() else { return [] }
        let here = store.storageLocation
        guard let recorded = header.location else {
            return [
                "the vault's location is not recorded (it was made by an earlier version); "
                    + "'verify --record-location' records \(here)"
            ]
        }
        guard recorded != here else { return [] }
        return [
            "this vault was created at \(recorded) but is opened at \(here): if it is a copy, only one of the two may "
                + "ever refresh tokens (each would spend the same refresh tokens, and Sendcloud revokes a tenant's "
                + "authorization when one is used twice); if it was moved, 'verify --record-location' records the "
                + "new location"
        ]
    }

    /// Records where the vault is opened now (``CredentialStore/storageLocation``) as its location, after a move,
    /// so that ``verify()`` stops warning that it may be a copy. Returns the location recorded.
    @discardableResult
    public func recordLocation() async throws -> String {
        let here = store.storageLocation
        try await store.recordLocation(here)
        logger.info("vault location recorded", metadata: ["location": "\(here)"])
        return here
    }
}
