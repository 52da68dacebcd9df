import Foundation
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
    var records: [Record]
    var passphrase_slot: PassphraseSlot
    var key_file_slot: KeyFileSlot

    static func load() throws -> GoldenVectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Golden/vectors.json"
        )
        return try JSONDecoder().decode(GoldenVectors.self, from: Data(contentsOf: url))
    }

    var dataKey: DataKey { DataKey(id: key_id, bytes: SecureBytes([UInt8](hex: data_key))) }
}

func context(
    _ name: AccountName = "acme-shop",
    field: SecretField = .refreshToken,
    vaultID: [UInt8] = Array(repeating: 0xAB, count: 16),
    keyID: UInt32 = 1
) -> SealingContext {
    SealingContext(vaultID: vaultID, keyID: keyID, account: name, field: field)
}

/// Expects `body` to throw a ``VaultError`` with `code`.
func expectVaultError<R>(
    _ code: VaultError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> R
) {
    let error = #expect(throws: VaultError.self, sourceLocation: sourceLocation) { try body() }
    #expect(error?.code == code, sourceLocation: sourceLocation)
}
