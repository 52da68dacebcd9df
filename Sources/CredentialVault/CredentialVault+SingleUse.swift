public import Foundation

// Single-use values across instances (an OAuth `state` presented once): claims kept in the store.
extension CredentialVault {
    /// How long a claim is kept after the `expiresAt` its caller gave (5 minutes): instances' clocks differ, and a
    /// claim must outlive the value it guards on every instance's clock, or one whose clock is behind could accept a
    /// replay after another pruned the claim.
    public static let singleUseClockMargin: TimeInterval = 300

    /// Claims `key` (opaque bytes, such as a hash of a login's `state`) until `expiresAt`: returns `true` for the
    /// first claim and `false` for every later one, across tasks, processes and — with a shared store — instances
    /// (``CredentialStore/claimSingleUse(_:expiresAt:)``: among concurrent claims exactly one wins).
    ///
    /// The claim is bound to this vault (the store keeps SHA-256 of the vault id and `key`), so vaults never see each
    /// other's claims, and kept until `expiresAt` plus ``singleUseClockMargin``; then it is pruned. So the caller
    /// must refuse an expired value itself, *before* claiming: after its claim is pruned, the key could be claimed
    /// again. Throws ``VaultError/Code/invalidInput`` for an empty or oversized key or a non-finite date.
    public func claimSingleUse(_ key: [UInt8], until expiresAt: Date) async throws -> Bool {
        guard !key.isEmpty, key.count <= SingleUseClaims.maximumKeyLength else {
            throw VaultError.invalid("a single-use key is 1 to \(SingleUseClaims.maximumKeyLength) bytes")
        }
        let bound = Sodium.sha256(Array("sendcloud-vault/single-use/v1".utf8) + [0] + vaultID + key)
        return try await store.claimSingleUse(bound, expiresAt: expiresAt.addingTimeInterval(Self.singleUseClockMargin))
    }
}
