public import Testing

/// One clause of the ``CredentialStore`` contract, checked against a store of the factory's kind.
public struct ConformanceCase: Sendable, CustomTestStringConvertible {
    /// What the case checks.
    public let name: String
    let body: @Sendable (StoreFactory) async throws -> Void

    init(_ name: String, _ body: @escaping @Sendable (StoreFactory) async throws -> Void) {
        self.name = name
        self.body = body
    }

    /// Runs the case against `factory`'s stores.
    public func run(_ factory: StoreFactory) async throws { try await body(factory) }

    public var testDescription: String { name }
}
