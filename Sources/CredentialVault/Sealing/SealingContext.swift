/// Where a sealed value belongs. All of it goes into the associated data, so a value moved to another vault,
/// account, field or key, or one whose account metadata was edited, does not open.
package struct SealingContext: Sendable {
    package var vaultID: [UInt8]
    package var keyID: UInt32
    package var account: AccountName
    package var field: SecretField
    package var metadata: AuthenticatedMetadata

    package init(
        vaultID: [UInt8],
        keyID: UInt32,
        account: AccountName,
        field: SecretField,
        metadata: AuthenticatedMetadata
    ) {
        self.vaultID = vaultID
        self.keyID = keyID
        self.account = account
        self.field = field
        self.metadata = metadata
    }

    /// `"SCVR" ‖ version ‖ vault id (16) ‖ key id (u32 BE) ‖ field (u8) ‖ name length (u16 BE) ‖ name`, followed in
    /// version 2 by the ``AuthenticatedMetadata``.
    func associatedData(version: UInt8) -> [UInt8] {
        var ad: [UInt8] = []
        ad.reserveCapacity(4 + 1 + vaultID.count + 4 + 1 + 2 + account.rawValue.utf8.count)
        ad.append(contentsOf: "SCVR".utf8)
        ad.append(version)
        ad += vaultID
        ad.appendBigEndian(keyID)
        ad.append(field.rawValue)
        ad.appendBigEndian(UInt16(account.rawValue.utf8.count))
        ad.append(contentsOf: account.rawValue.utf8)
        if version >= 2 { metadata.append(to: &ad) }
        return ad
    }
}
