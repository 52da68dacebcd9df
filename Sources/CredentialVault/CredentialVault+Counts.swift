public import Foundation

// Counting accounts by status, for a metrics gauge: one aggregate query, no record read.
extension CredentialVault {
    /// The number of accounts by status at `now` (``AccountCounts``), from one aggregate query of the store that reads
    /// no sealed value and decodes no record (``CredentialStore/accountStatusCounts(now:)``): cheap enough to poll
    /// for a gauge. *Not authenticated*: someone who can write the store can change what it counts, as with
    /// ``dueAccounts(_:)``; a status this version does not know counts as ``AccountCounts/other``.
    public func accountCounts(now: Date = Date()) async throws -> AccountCounts {
        var counts = AccountCounts()
        for group in try await store.accountStatusCounts(now: now) {
            switch group.status {
            case .text(AccountStatus.ok.rawValue):
                if group.backingOff { counts.backingOff += group.count } else { counts.ok += group.count }
            case .text(AccountStatus.reauthRequired.rawValue): counts.reauthRequired += group.count
            default: counts.other += group.count
            }
        }
        return counts
    }
}
