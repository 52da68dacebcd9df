import AsyncHTTPClient
import CredentialVault
import CredentialVaultSQLite
import Foundation
import SendcloudTesting
import Synchronization
import Testing

@testable import SendcloudOAuth

/// The CLI's HTTP client, made by the first request only: a token served from the vault starts no HTTP client.
@Suite("An HTTP client made on demand")
struct HTTPClientOnDemandTests {
    /// How many HTTP clients were made.
    final class Count: Sendable {
        private let value = Mutex(0)
        func increment() { value.withLock { $0 += 1 } }
        var current: Int { value.withLock { $0 } }
    }

    /// A provider over `h`'s vault file whose endpoint client makes its `HTTPClient` on demand, counting how many.
    static func onDemandProvider(
        _ h: Harness
    ) async throws -> (provider: TokenProvider, http: HTTPClientOnDemand, made: Count) {
        let made = Count()
        let configuration = h.clientConfiguration
        let http = HTTPClientOnDemand { [made] in
            made.increment()
            return TokenEndpointClient.makeHTTPClient(configuration: configuration)
        }
        let vault = try await CredentialVault.open(
            SQLiteCredentialStore(path: h.path),
            with: .key(h.key),
            logger: h.logger
        )
        let provider = TokenProvider(
            vault: vault,
            client: TokenEndpointClient(httpClient: http, configuration: configuration, logger: h.logger),
            logger: h.logger
        )
        return (provider, http, made)
    }

    @Test("a token stored in the vault is served without making the HTTP client; a refresh makes it once")
    func madeOnlyForRequests() async throws {
        try await withHarness { h in
            try await h.addClientCredentialsAccount("acme")
            _ = try await h.provider.accessToken(for: "acme")  // stored by the harness's provider
            let (provider, http, made) = try await Self.onDemandProvider(h)
            for _ in 0..<3 {
                let token = try await provider.accessToken(for: "acme")
                #expect(!token.obtainedFromServer)
            }
            #expect(!http.isMade)
            #expect(made.current == 0)

            for _ in 0..<2 {
                let token = try await provider.refresh("acme")
                #expect(token.obtainedFromServer)
            }
            #expect(http.isMade)
            #expect(made.current == 1)
            #expect(h.server.stats.tokenRequests == 3)
            try await http.shutdown()
            #expect(!http.isMade)
        }
    }

    @Test("after shutdown a request fails as unreachable and makes no new client")
    func shutDown() async throws {
        try await withHarness { h in
            try await h.addClientCredentialsAccount("acme")
            let (provider, http, made) = try await Self.onDemandProvider(h)
            try await http.shutdown()  // never made: nothing to shut down
            let error = await #expect(throws: OAuthError.self) { try await provider.accessToken(for: "acme") }
            #expect(error?.code == .unreachable)
            #expect(made.current == 0)
            #expect(h.server.stats.tokenRequests == 0)
        }
    }
}
