/// The metadata that decides where and how an account's secrets are used, bound into the associated data of
/// each of its sealed values (DESIGN §3): whoever can write the store cannot send a secret to another token URL
/// or client id, change its mode or scopes, replay an older generation's metadata under the current values, or
/// drop a sealed value unnoticed. Status, last error, expiry and timestamps are not bound: they steer scheduling,
/// not where a secret goes.
package struct AuthenticatedMetadata: Sendable, Equatable {
    package var mode: AccountMode
    package var clientID: String
    package var tokenURL: String
    package var scopes: String?
    package var generation: Int64
    /// Which fields hold a sealed value.
    package var fields: Set<SecretField>

    package init(_ account: Account, fields: Set<SecretField>) {
        mode = account.mode
        clientID = account.clientID
        tokenURL = account.tokenURL
        scopes = account.scopes
        generation = account.generation
        self.fields = fields
    }

    /// `generation (i64 BE) ‖ fields (bitmask u8) ‖ mode ‖ client id ‖ token URL ‖ scopes present (u8) ‖ scopes`,
    /// each string as `length (u32 BE) ‖ UTF-8`.
    func append(to ad: inout [UInt8]) {
        // One allocation for the whole associated data (it is built for every value sealed or opened).
        ad.reserveCapacity(
            ad.count + 8 + 1 + 12 + mode.rawValue.utf8.count + clientID.utf8.count + tokenURL.utf8.count + 1
                + (scopes?.utf8.count ?? 0) + 4
        )
        ad.appendBigEndian(generation)
        ad.append(fields.reduce(UInt8(0)) { $0 | (1 << $1.rawValue) })
        ad.appendLengthPrefixed(mode.rawValue)
        ad.appendLengthPrefixed(clientID)
        ad.appendLengthPrefixed(tokenURL)
        ad.append(scopes == nil ? 0 : 1)
        if let scopes { ad.appendLengthPrefixed(scopes) }
    }
}
