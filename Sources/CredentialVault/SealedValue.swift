/// A sealed secret as stored: `version (1) ‖ nonce (24) ‖ ciphertext ‖ tag (16)`.
///
/// Produced and opened only by ``RecordCipher``; the bytes reveal nothing but the secret's length.
public struct SealedValue: Sendable, Hashable, CustomStringConvertible {
    /// The format version written in the first byte of new values: 2, whose associated data authenticates the
    /// account's metadata (``AuthenticatedMetadata``).
    public static let formatVersion: UInt8 = 2
    /// The first format: associated data without the metadata. Opened only in a vault not yet upgraded.
    public static let legacyFormatVersion: UInt8 = 1

    /// The stored bytes.
    public let bytes: [UInt8]

    /// Wraps bytes read from storage; they are checked when opened.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// The length only.
    public var description: String { "SealedValue(\(bytes.count) bytes)" }
}

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
        ad.appendBigEndian(generation)
        ad.append(fields.reduce(UInt8(0)) { $0 | (1 << $1.rawValue) })
        for text in [mode.rawValue, clientID, tokenURL] { ad.appendLengthPrefixed(text) }
        ad.append(scopes == nil ? 0 : 1)
        if let scopes { ad.appendLengthPrefixed(scopes) }
    }
}

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
        var ad: [UInt8] = Array("SCVR".utf8)
        ad.append(version)
        ad += vaultID
        ad.appendBigEndian(keyID)
        ad.append(field.rawValue)
        let name = Array(account.rawValue.utf8)
        ad.appendBigEndian(UInt16(name.count))
        ad += name
        if version >= 2 { metadata.append(to: &ad) }
        return ad
    }
}

/// Seals and opens record values with XChaCha20-Poly1305 and a fresh random nonce per seal.
/// There is no way to open without the associated data of a ``SealingContext``.
package enum RecordCipher {
    package static func seal(_ plaintext: SecureBytes, key: DataKey, context: SealingContext) -> SealedValue {
        seal(plaintext, key: key, context: context, nonce: Sodium.randomBytes(Sodium.aeadNonceBytes))
    }

    /// Deterministic variant for known-answer tests only.
    static func seal(_ plaintext: SecureBytes, key: DataKey, context: SealingContext, nonce: [UInt8]) -> SealedValue {
        precondition(key.id == context.keyID, "sealing context names another key")
        let ad = context.associatedData(version: SealedValue.formatVersion)
        let ct = plaintext.withUnsafeBytes { pt in
            Sodium.aeadSeal(plaintext: pt, ad: ad, nonce: nonce, key: key.bytes)
        }
        return SealedValue(bytes: [SealedValue.formatVersion] + nonce + ct)
    }

    /// Opens `value`. A value of the legacy format (no metadata in its associated data) opens only with
    /// `acceptingLegacy`, which the vault grants only to its explicit format upgrade and to `verify`.
    package static func open(
        _ value: SealedValue,
        key: DataKey,
        context: SealingContext,
        acceptingLegacy: Bool = false
    ) throws(VaultError) -> SecureBytes {
        let b = value.bytes
        let header = 1 + Sodium.aeadNonceBytes
        let what = "the sealed \(context.field) of '\(context.account)'"
        guard b.count >= header + Sodium.aeadTagBytes,
            b[0] == SealedValue.formatVersion || b[0] == SealedValue.legacyFormatVersion
        else {
            throw .integrity("\(what) is malformed")
        }
        guard b[0] == SealedValue.formatVersion || acceptingLegacy else {
            throw .integrity(
                "\(what) is sealed in format 1, whose metadata (token URL, client id, ...) is not authenticated; "
                    + "check the vault's accounts, then upgrade it (sendcloud-vault verify --upgrade)"
            )
        }
        guard key.id == context.keyID else {
            throw .integrity("\(what) names key \(context.keyID), which this vault does not hold")
        }
        guard
            let plaintext = Sodium.aeadOpen(
                ciphertext: b[header...],
                ad: context.associatedData(version: b[0]),
                nonce: b[1..<header],
                key: key.bytes
            )
        else {
            throw .integrity(
                b[0] == SealedValue.formatVersion
                    ? "\(what) failed its integrity check: the value, or the account's mode, client id, token URL, "
                        + "scopes, generation or set of secrets was altered"
                    : "\(what) failed its integrity check"
            )
        }
        return plaintext
    }

    /// The format version of `value` (its first byte), if it has one.
    package static func version(of value: SealedValue) -> UInt8? { value.bytes.first }
}

/// A data key: 32 random bytes (mlocked) and the id records name it by.
package struct DataKey: Sendable {
    package var id: UInt32
    package var bytes: SecureBytes

    package init(id: UInt32, bytes: SecureBytes) {
        self.id = id
        self.bytes = bytes
    }

    package static func generate(id: UInt32) -> DataKey {
        DataKey(id: id, bytes: SecureBytes.random(count: Sodium.aeadKeyBytes, locked: true))
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    /// `length (u32 BE) ‖ UTF-8 bytes`.
    mutating func appendLengthPrefixed(_ text: String) {
        let bytes = Array(text.utf8)
        appendBigEndian(UInt32(clamping: bytes.count))
        append(contentsOf: bytes)
    }
}
