import AsyncHTTPClient
import CredentialVault
import CredentialVaultSQLite
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SendcloudOAuth
import SendcloudTesting
import TestSupport
import Testing

extension SecureBytes {
    var string: String { unsafeStringValue() ?? "" }
}

/// A real SQLite vault, a real fake-Sendcloud server on 127.0.0.1 and a provider wired to both, with short
/// timeouts and backoffs so that fault tests finish quickly.
struct Harness {
    static let clientID = "client id:with/specials"
    static let clientSecret = "s3cr3t+&=%/ value"

    let dir: TempDir
    let path: String
    let key: KeyFileKey
    let server: FakeSendcloud
    let http: HTTPClient
    let vault: CredentialVault
    let provider: TokenProvider
    let clientConfiguration: TokenEndpointClient.Configuration
    let logger: Logger

    static var fastClient: TokenEndpointClient.Configuration {
        var configuration = TokenEndpointClient.Configuration()
        // Generous per request (a loaded 2-core CI machine must not turn a slow answer into a retry that reuses a
        // refresh token); the timeout test makes its own, short one.
        // 20 s, not 5: under the whole suite's load (dozens of CLI processes at once) a plain 500 answer has been
        // seen to take over 5 s, turning an expected serverError into unreachable.
        configuration.requestTimeout = .seconds(20)
        configuration.connectTimeout = .seconds(10)
        configuration.initialBackoff = .milliseconds(10)
        configuration.maxBackoff = .milliseconds(40)
        configuration.overallTimeout = .seconds(60)
        configuration.maxRetryAfter = .seconds(5)
        return configuration
    }

    static func start(logger: Logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }) async throws -> Harness
    {
        let dir = try TempDir(prefix: "scv-oauth")
        let path = dir.path + "/vault.sqlite"
        let key = KeyFileKey.generate()
        let vault = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: path, create: true),
            slots: [.key(key)],
            logger: logger
        )
        let server = try await FakeSendcloud.start(registering: [clientID: clientSecret])
        let configuration = fastClient
        let http = TokenEndpointClient.makeHTTPClient(configuration: configuration)
        let provider = TokenProvider(
            vault: vault,
            client: TokenEndpointClient(httpClient: http, configuration: configuration, logger: logger),
            logger: logger
        )
        return Harness(
            dir: dir,
            path: path,
            key: key,
            server: server,
            http: http,
            vault: vault,
            provider: provider,
            clientConfiguration: configuration,
            logger: logger
        )
    }

    func stop() async {
        try? await http.shutdown()
        await server.stop()
    }

    /// Another provider over another vault instance of the same file: what another process would have.
    func secondProvider() async throws -> (TokenProvider, HTTPClient) {
        let vault = try await CredentialVault.open(SQLiteCredentialStore(path: path), with: .key(key), logger: logger)
        let http = TokenEndpointClient.makeHTTPClient(configuration: clientConfiguration)
        return (
            TokenProvider(
                vault: vault,
                client: TokenEndpointClient(httpClient: http, configuration: clientConfiguration, logger: logger),
                logger: logger
            ), http
        )
    }

    /// A provider with `configuration` over another vault instance of the same file, opened on a
    /// ``InstrumentedStore`` (so that a test can count its account reads); it shares this harness's HTTP client.
    func countingProvider(
        _ configuration: TokenProvider.Configuration
    ) async throws -> (provider: TokenProvider, store: InstrumentedStore) {
        let store = InstrumentedStore(try SQLiteCredentialStore(path: path))
        let provider = TokenProvider(
            vault: try await CredentialVault.open(store, with: .key(key), logger: logger),
            client: TokenEndpointClient(httpClient: http, configuration: clientConfiguration, logger: logger),
            configuration: configuration,
            logger: logger
        )
        return (provider, store)
    }

    /// Runs `body` with ``secondProvider()`` and always shuts its HTTP client down.
    func withSecondProvider<R>(_ body: (TokenProvider) async throws -> R) async throws -> R {
        let (provider, http) = try await secondProvider()
        return try await withClosing(provider, close: { _ in try? await http.shutdown() }, body)
    }

    @discardableResult
    func addRefreshAccount(
        _ name: AccountName,
        refreshToken: String? = nil,
        tokenURL: String? = nil,
        secret: String = clientSecret
    ) async throws -> String {
        let token = refreshToken ?? server.issueRefreshToken(clientID: Self.clientID)
        try await vault.addAccount(
            Account(name: name, mode: .refreshToken, clientID: Self.clientID, tokenURL: tokenURL ?? server.tokenURL),
            secrets: AccountSecrets(clientSecret: SecureBytes(utf8: secret), refreshToken: SecureBytes(utf8: token))
        )
        return token
    }

    func addClientCredentialsAccount(
        _ name: AccountName,
        secret: String = clientSecret,
        tokenURL: String? = nil
    ) async throws {
        try await vault.addAccount(
            Account(
                name: name,
                mode: .clientCredentials,
                clientID: Self.clientID,
                tokenURL: tokenURL ?? server.tokenURL
            ),
            secrets: AccountSecrets(clientSecret: SecureBytes(utf8: secret))
        )
    }
}

/// Runs `body` with a started harness (whose parts log to `logger`) and always stops it.
func withHarness(
    logger: Logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
    _ body: (Harness) async throws -> Void
) async throws {
    try await withClosing(try await Harness.start(logger: logger), close: { await $0.stop() }, body)
}

/// Expects an ``OAuthError`` with `code`; returns it.
@discardableResult
func expectOAuthError<R>(
    _ code: OAuthError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> R
) async -> OAuthError? {
    do {
        _ = try await body()
        Issue.record("expected OAuthError \(code), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as OAuthError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected OAuthError \(code), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
