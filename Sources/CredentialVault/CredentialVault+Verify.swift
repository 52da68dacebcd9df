import Foundation
import Logging

// Verification: every record opened, every slot checked, the storage itself checked; reads only.
extension CredentialVault {
    /// Account rows read at a time by ``verify()``.
    static let verifyPageSize = 500

    /// Opens every sealed value of every account and checks every slot's key id and the storage itself; returns the
    /// problems found (none when the vault is sound) with the number of account and slot rows checked. Reads only.
    ///
    /// Accounts are read a page at a time (memory for one page, whatever their number), so the check is not one
    /// snapshot: an account added or removed meanwhile may or may not be counted, and is never reported as a
    /// problem. A page the store cannot read (a value that is not what was stored) is reported, and the accounts after
    /// it are not checked.
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
        var accountCount = 0
        var after: String?
        repeat {
            let page: [Result<StoredAccount, VaultError>]
            do {
                let next = try await store.accountRecordPage(after: after, limit: Self.verifyPageSize)
                page = next.records
                after = next.next
            } catch let error as VaultError where error.code == .integrityFailure {
                let start = after.map { "after '\($0.prefix(128))'" } ?? "from the first"
                problems.append(
                    Problem(
                        message:
                            "the accounts \(start) cannot be read: \(error.message); those accounts were not checked",
                        code: .integrityFailure
                    )
                )
                break
            }
            accountCount += page.count
            page.forEach(check)
        } while after != nil
        var report = VerificationReport(
            problems: problems,
            accountCount: accountCount,
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
