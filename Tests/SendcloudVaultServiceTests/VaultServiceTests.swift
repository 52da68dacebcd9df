import AsyncHTTPClient
import CredentialVault
import CredentialVaultPostgres
import CredentialVaultSQLite
import Foundation
import Logging
import NIOCore
import SendcloudOAuth
import SendcloudTesting
import SendcloudVaultService
import ServiceLifecycle
import TestSupport
import Testing

/// ``VaultService`` in a real `ServiceGroup`, over a real SQLite vault file and the fake Sendcloud on 127.0.0.1.
@Suite("VaultService in a ServiceGroup")
struct VaultServiceTests {
    static let clientID = "service-client"
    static let clientSecret = "service secret"
    static let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// A vault file with a key-file slot and `names` as refresh-token accounts with no access token (all due).
    static func makeVault(_ dir: TempDir, _ server: FakeSendcloud, _ names: [AccountName]) async throws -> KeyFileKey {
        let key = KeyFileKey.generate()
        let vault = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: dir.file("vault.sqlite"), create: true),
            slots: [.key(key)],
            logger: logger
        )
        for name in names {
            try await vault.addAccount(
                Account(name: name, mode: .refreshToken, clientID: clientID, tokenURL: server.tokenURL),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: clientSecret),
                    refreshToken: SecureBytes(utf8: server.issueRefreshToken(clientID: clientID))
                )
            )
        }
        return key
    }

    static func configuration() -> VaultService.Configuration {
        var configuration = VaultService.Configuration()
        configuration.refresher?.jitter = .zero
        configuration.refresher?.concurrency = 1
        configuration.endpoint.requestTimeout = .seconds(30)
        return configuration
    }

    static func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<600 where !condition() { try await Task.sleep(for: .milliseconds(50)) }
        guard condition() else { throw TestSupportError(description: "timed out waiting until \(what)") }
    }

    @Test("graceful shutdown with a refresh in flight: it commits, nothing new starts, run() returns")
    func gracefulShutdownCommitsInFlightRefresh() async throws {
        let dir = try TempDir(prefix: "scv-service")
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { server in
            let key = try await Self.makeVault(dir, server, ["acme", "later"])
            let service = try await VaultService.open(
                location: .file(dir.file("vault.sqlite")),
                unlock: .key(key),
                configuration: Self.configuration(),
                logger: Self.logger
            )
            server.injectFaults([.slow(seconds: 60)])  // held until released below
            let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: Self.logger)
            let running = Task { try await group.run() }
            try await Self.waitUntil("the refresh of acme reached the server") { server.stats.tokenRequests == 1 }
            await group.triggerGracefulShutdown()
            try await Task.sleep(for: .milliseconds(200))
            server.releaseHeldRequests()
            try await running.value

            let vault = try await CredentialVault.open(
                SQLiteCredentialStore(path: dir.file("vault.sqlite")),
                with: .key(key),
                logger: Self.logger
            )
            let (acme, secrets) = try await vault.openAccount(named: "acme")
            #expect(acme.accessTokenExpiresAt != nil, "the refresh in flight was not committed")
            let rotated = try #require(secrets.refreshToken?.unsafeStringValue())
            #expect(server.isRefreshTokenActive(rotated), "the stored refresh token is not the rotated one")
            #expect(server.stats.refreshGrants == 1, "a refresh started after graceful shutdown")
            #expect(try await vault.account(named: "later").accessTokenExpiresAt == nil)
            // The HTTP client was shut down with the service.
            await #expect(throws: (any Error).self) {
                _ = try await service.httpClient.execute(HTTPClientRequest(url: server.tokenURL), timeout: .seconds(2))
            }
        }
    }

    @Test("a service without a refresher serves tokens on demand from memory; its event streams end when it stops")
    func noRefresher() async throws {
        let dir = try TempDir(prefix: "scv-service")
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { server in
            let key = try await Self.makeVault(dir, server, ["acme"])
            var configuration = Self.configuration()
            configuration.refresher = nil
            let service = try await VaultService.open(
                location: .file(dir.file("vault.sqlite")),
                unlock: .key(key),
                configuration: configuration,
                logger: Self.logger
            )
            #expect(service.refresher == nil)
            let events = service.provider.events()
            let listener = Task { () -> (events: Int, cancelled: Bool) in
                var count = 0
                for await _ in events { count += 1 }
                return (count, Task.isCancelled)  // not cancelled: the stream itself ended
            }
            let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: Self.logger)
            let running = Task { try await group.run() }
            let token = try await service.provider.accessToken(for: "acme")
            #expect(server.isAccessTokenValid(token.value.unsafeStringValue() ?? ""))
            let again = try await service.provider.accessToken(for: "acme")
            #expect(again.value == token.value && !again.obtainedFromServer)
            #expect(server.stats.refreshGrants == 1, "the service's provider does not hold tokens in memory")
            await group.triggerGracefulShutdown()
            try await running.value
            // The stream must end with the service: give it a deadline rather than hang the test.
            let ended = Task {
                try await Task.sleep(for: .seconds(30))
                listener.cancel()
            }
            let (count, cancelled) = await listener.value
            ended.cancel()
            #expect(!cancelled, "the event stream did not end with the service")
            #expect(count == 1, "the stream missed the refresh")
        }
    }

    @Test("on PostgreSQL: tokens through the service, and its stop closes the store's connections")
    func postgresStoreClosed() async throws {
        let server = try PostgresTestServer.configured()
        let location = try PostgresLocation(url: server.url(schema: PostgresTestServer.uniqueSchema("svc")))
        try await withFakeSendcloud(clients: [Self.clientID: Self.clientSecret]) { fake in
            let key = KeyFileKey.generate()
            let creator = try await PostgresCredentialStore.connect(
                to: location,
                password: server.password,
                create: true
            )
            let created = try await CredentialVault.create(in: creator, slots: [.key(key)], logger: Self.logger)
            try await created.addAccount(
                Account(name: "acme", mode: .clientCredentials, clientID: Self.clientID, tokenURL: fake.tokenURL),
                secrets: AccountSecrets(clientSecret: SecureBytes(utf8: Self.clientSecret))
            )
            await creator.close()
            let service = try await VaultService.open(
                location: .postgres(location),
                unlock: .key(key),
                configuration: Self.configuration(),
                logger: Self.logger
            )
            let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: Self.logger)
            let running = Task { try await group.run() }
            let token = try await service.provider.accessToken(for: "acme")
            #expect(fake.isAccessTokenValid(token.value.unsafeStringValue() ?? ""))
            await group.triggerGracefulShutdown()
            try await running.value
            await #expect(throws: VaultError.self) { try await service.vault.account(named: "acme") }
        }
    }
}
