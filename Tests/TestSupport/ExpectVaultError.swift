public import CredentialVault
public import Testing

/// Expects `body` to throw a ``CredentialVault/VaultError`` with `code`; returns the error, or nil after recording
/// an issue (nothing thrown, another error, or another code).
@discardableResult
public func expectVaultError<R>(
    _ code: VaultError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> R
) -> VaultError? {
    do {
        _ = try body()
        return checkVaultError(code, thrown: nil, sourceLocation: sourceLocation)
    } catch {
        return checkVaultError(code, thrown: error, sourceLocation: sourceLocation)
    }
}

/// The `async` form of the synchronous `expectVaultError(_:sourceLocation:_:)`: same checks, same result.
@discardableResult
public func expectVaultError<R>(
    _ code: VaultError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> R
) async -> VaultError? {
    do {
        _ = try await body()
        return checkVaultError(code, thrown: nil, sourceLocation: sourceLocation)
    } catch {
        return checkVaultError(code, thrown: error, sourceLocation: sourceLocation)
    }
}

/// Records an issue unless `thrown` is a `VaultError` with `code`; returns it when it is a `VaultError`.
private func checkVaultError(
    _ code: VaultError.Code,
    thrown: (any Error)?,
    sourceLocation: SourceLocation
) -> VaultError? {
    guard let thrown else {
        Issue.record("expected VaultError \(code), nothing was thrown", sourceLocation: sourceLocation)
        return nil
    }
    guard let error = thrown as? VaultError else {
        Issue.record("expected VaultError \(code), got \(thrown)", sourceLocation: sourceLocation)
        return nil
    }
    #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    return error
}
