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

    /// Runs `body` with a provider, and shuts the HTTP client down afterwards.
    static func with<T: Sendable>(
        _ vault: CredentialVault,
        _ global: GlobalOptions,
        _ body: (TokenProvider) async throws -> T
    ) async throws -> T {
        let configuration = TokenEndpointClient.Configuration()
        let http = TokenEndpointClient.makeHTTPClient(configuration: configuration)
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

/// A duration written `90s`, `5m`, `1h` (or `250ms`).
struct DurationArgument: ExpressibleByArgument, Sendable {
    var duration: Duration

    init?(argument: String) {
        if argument == "0" {  // zero needs no unit
            duration = .zero
            return
        }
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, millis) in units where argument.hasSuffix(suffix) {
            let number = argument.dropLast(suffix.count)
            guard let value = Int64(number), value >= 0 else { return nil }
            let (total, overflow) = value.multipliedReportingOverflow(by: millis)
            guard !overflow, total <= 366 * 86_400_000 else { return nil }  // at most a year
            duration = .milliseconds(total)
            return
        }
        return nil
    }

    init(_ duration: Duration) { self.duration = duration }

    var defaultValueDescription: String { "\(duration)" }
}
