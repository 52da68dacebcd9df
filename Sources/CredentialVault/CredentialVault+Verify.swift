import Foundation
import Logging

// Verification: every record opened, every slot checked, the storage itself checked; reads only.
extension CredentialVault {
    /// Opens every sealed value of every account and checks every slot's key id and the storage itself; returns the
    /// problems found (none when the vault is sound) with the number of account and slot rows checked. Reads only.
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
        let accountRecords = try await store.accountRecords()
        for result in accountRecords {
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
        return VerificationReport(problems: problems, accountCount: accountRecords.count, slotCount: slotRecords.count)
    }
}
