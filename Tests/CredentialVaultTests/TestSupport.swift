import Foundation
@_exported import TestSupport
import Testing

@testable import CredentialVault

extension Array where Element == UInt8 {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self = bytes
    }

    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

extension SecureBytes {
    convenience init(_ bytes: [UInt8]) {
        self.init(count: bytes.count) { out in bytes.withUnsafeBytes { out.copyMemory(from: $0) } }
    }

    var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// The vectors in Golden/vectors.json, written by scripts/make-golden.py (PyNaCl), not by this package.
struct GoldenVectors: Decodable {
    struct Record: Decodable {
        var account: String
        var field: UInt8
        var plaintext: String
        var nonce: String
        var sealed: String
    }
    struct PassphraseSlot: Decodable {
        var passphrase: String
        var salt: String
        var ops_limit: UInt64
        var mem_limit: UInt64
        var wrapping_key: String
        var nonce: String
        var wrapped_key: String
    }
    struct KeyFileSlot: Decodable {
        var key: String
        var nonce: String
        var wrapped_key: String
    }
    var vault_id: String
    var data_key: String
    var key_id: UInt32
    struct Metadata: Decodable {
        var mode: String
        var client_id: String
        var token_url: String
        var scopes: String?
        var generation: Int64
        var fields: [UInt8]
    }
    var metadata: Metadata
    var records: [Record]
    var legacy_records: [Record]
    var passphrase_slot: PassphraseSlot
    var key_file_slot: KeyFileSlot

    static func load() throws -> GoldenVectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Golden/vectors.json"
        )
        return try JSONDecoder().decode(GoldenVectors.self, from: Data(contentsOf: url))
    }

    var dataKey: DataKey { DataKey(id: key_id, bytes: SecureBytes([UInt8](hex: data_key))) }

    /// The metadata the golden records bind.
    var authenticatedMetadata: AuthenticatedMetadata {
        var account = Account(
            name: "acme-shop",
            mode: AccountMode(rawValue: metadata.mode)!,
            clientID: metadata.client_id,
            scopes: metadata.scopes,
            tokenURL: metadata.token_url
        )
        account.generation = metadata.generation
        return AuthenticatedMetadata(account, fields: Set(metadata.fields.map { SecretField(rawValue: $0)! }))
    }
}

func context(
    _ name: AccountName = "acme-shop",
    field: SecretField = .refreshToken,
    vaultID: [UInt8] = Array(repeating: 0xAB, count: 16),
    keyID: UInt32 = 1,
    metadata: AuthenticatedMetadata = sampleMetadata()
) -> SealingContext {
    SealingContext(vaultID: vaultID, keyID: keyID, account: name, field: field, metadata: metadata)
}

/// Metadata for sealing tests; change one field to get metadata that a value sealed with the default must refuse.
func sampleMetadata(
    mode: AccountMode = .refreshToken,
    clientID: String = "acme-public",
    tokenURL: String = "https://account.sendcloud.com/oauth2/token",
    scopes: String? = "api",
    generation: Int64 = 1,
    fields: Set<SecretField> = [.clientSecret, .refreshToken]
) -> AuthenticatedMetadata {
    var account = Account(name: "acme", mode: mode, clientID: clientID, scopes: scopes, tokenURL: tokenURL)
    account.generation = generation
    return AuthenticatedMetadata(account, fields: fields)
}
