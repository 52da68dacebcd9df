import CredentialVault
import CredentialVaultSQLite
import Foundation
@_exported import TestSupport
import Testing

/// Fast Argon2id limits for tests where the KDF cost is not the point.
let fastKDF = try! KDFLimits(opsLimit: 1, memLimit: 8192)

extension SecureBytes {
    var string: String { unsafeStringValue() ?? "" }
}

func fileBytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

func contains(_ haystack: Data, _ needle: String) -> Bool {
    haystack.range(of: Data(needle.utf8)) != nil
}

func sampleAccount(_ name: AccountName, _ mode: AccountMode = .refreshToken) -> Account {
    Account(
        name: name,
        mode: mode,
        clientID: "client-\(name)",
        scopes: "api",
        tokenURL: "https://account.sendcloud.com/oauth2/token"
    )
}

/// A 0600 copy, in `dir`, of the vault made by the first schema and format (Fixtures/format-1).
func copyOfFormatOneVault(in dir: TempDir, file: String = #filePath) throws -> String {
    let fixture = URL(fileURLWithPath: file).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/format-1/vault.sqlite").path
    let copy = dir.file("old.sqlite")
    try FileManager.default.copyItem(atPath: fixture, toPath: copy)
    chmod(copy, 0o600)
    return copy
}
