import CredentialVault
import CredentialVaultSQLite
import Foundation
import Testing

/// A private temporary directory per test, removed when the value is released.
final class TempDir: Sendable {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("scv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: base,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        path = base.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// Fast Argon2id limits for tests where the KDF cost is not the point.
let fastKDF = try! KDFLimits(opsLimit: 1, memLimit: 8192)

extension SecureBytes {
    var string: String { unsafeStringValue() ?? "" }
}

/// Expects `body` to throw a ``VaultError`` with `code`; returns it.
@discardableResult
func expectVaultError<R>(
    _ code: VaultError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> R
) async -> VaultError? {
    do {
        _ = try await body()
        Issue.record("expected VaultError \(code), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as VaultError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected VaultError \(code), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
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
