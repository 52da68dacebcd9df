import CredentialStoreConformance
import CredentialVault
import CredentialVaultMemory
import Testing

@Suite("In-memory store: the CredentialStore conformance suite")
struct MemoryConformanceTests {
    static let factory = StoreFactory(
        name: "memory",
        makeStore: { InMemoryCredentialStore() },
        sameStorage: { $0 },
        tamper: { store, name, column, value in
            (store as! InMemoryCredentialStore).tamper(account: name, column: column, with: value)
        }
    )

    @Test(arguments: CredentialStoreConformance.cases)
    func conformance(_ check: ConformanceCase) async throws { try await check.run(Self.factory) }
}
