import ArgumentParser
import AsyncHTTPClient
import CredentialVault
import Foundation
import SendcloudOAuth

/// The CLI's wiring of `SendcloudOAuth`: an HTTP client with the DESIGN §6 limits, a provider over the vault.
enum OAuthSession {
    /// `--token-url`, else `SENDCLOUD_TOKEN_URL`, else Sendcloud's; refused (78) unless https or loopback http.
    static func tokenURL(_ flag: String?) throws -> String {
        let url = flag ?? SecretInput.plainEnvironment("SENDCLOUD_TOKEN_URL") ?? TokenURLPolicy.sendcloudTokenURL
        try TokenURLPolicy.validate(url)
        return url
    }

    /// `SENDCLOUD_AUTHORIZE_URL`, else Sendcloud's.
    static func authorizeURL() throws -> String {
        let url = SecretInput.plainEnvironment("SENDCLOUD_AUTHORIZE_URL") ?? TokenURLPolicy.sendcloudAuthorizeURL
        try TokenURLPolicy.validate(url)
        return url
    }

    /// Runs `body` with a provider, and shuts the HTTP client down afterwards. The HTTP client (and its event loop
    /// threads) is made only if a request is sent: a token found in the vault needs none.
    static func with<T: Sendable>(
        _ vault: CredentialVault,
        _ global: GlobalOptions,
        _ body: (TokenProvider) async throws -> T
    ) async throws -> T {
        let configuration = TokenEndpointClient.Configuration()
        let http = HTTPClientOnDemand { TokenEndpointClient.makeHTTPClient(configuration: configuration) }
        let logger = global.logger
        let provider = TokenProvider(
            vault: vault,
            client: TokenEndpointClient(httpClient: http, configuration: configuration, logger: logger),
            logger: logger
        )
        do {
            let result = try await body(provider)
            try await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }
}
