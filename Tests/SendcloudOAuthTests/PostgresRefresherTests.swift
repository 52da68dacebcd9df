import AsyncHTTPClient
import CredentialVault
import CredentialVaultPostgres
import Foundation
import Logging
import SendcloudOAuth
import SendcloudTesting
import TestSupport
import Testing

/// Several backend instances over one PostgreSQL vault: separate stores (separate `PostgresClient`s), vaults,
/// HTTP clients, providers and refreshers, as separate hosts would have.
@Suite("PostgreSQL: several refresher instances share the tenants")
struct PostgresRefresherTests {
    struct Instance {
        let store: PostgresCredentialStore
        let http: HTTPClient
        let refresher: TokenRefresher
        let vault: CredentialVault
    }

    static func instance(
        _ location: PostgresLocation,
        key: KeyFileKey,
        configuration: TokenRefresher.Configuration,
        logger: Logger
    ) async throws -> Instance {
        let server = try PostgresTestServer.configured()
        let store = try await PostgresCredentialStore.connect(to: location, password: server.password)
        let vault = try await CredentialVault.open(store, with: .key(key), logger: logger)
        let client = Harness.fastClient
        let http = TokenEndpointClient.makeHTTPClient(configuration: client)
        let provider = TokenProvider(
            vault: vault,
            client: TokenEndpointClient(httpClient: http, configuration: client, logger: logger),
            logger: logger
        )
        return Instance(
            store: store,
            http: http,
            refresher: TokenRefresher(provider: provider, configuration: configuration, logger: logger),
            vault: vault
        )
    }

    @Test(
        "3 refreshers, 300 accounts, several token lifetimes: each expiry refreshed exactly once, none reauth-required"
    )
    func threeRefreshers() async throws {
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let server = try PostgresTestServer.configured()
        let location = try PostgresLocation(url: server.url(schema: PostgresTestServer.uniqueSchema()))
        let key = KeyFileKey.generate()
        let setup = try await PostgresCredentialStore.connect(to: location, password: server.password, create: true)
        let vault = try await CredentialVault.create(in: setup, slots: [.key(key)], logger: logger)
        let fake = try await FakeSendcloud.start(registering: [Harness.clientID: Harness.clientSecret])
        let lifetime = 8
        let ahead = 4
        fake.setAccessTokenLifetime(seconds: lifetime)
        var firstTokens: [String: String] = [:]
        let names = (0..<300).map { String(format: "tenant-%03d", $0) }
        for name in names {
            let token = fake.issueRefreshToken(clientID: Harness.clientID)
            firstTokens[name] = token
            try await vault.addAccount(
                Account(
                    name: try AccountName(name),
                    mode: .refreshToken,
                    clientID: Harness.clientID,
                    tokenURL: fake.tokenURL
                ),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: Harness.clientSecret),
                    refreshToken: SecureBytes(utf8: token)
                )
            )
        }
        var configuration = TokenRefresher.Configuration()
        configuration.interval = .seconds(1)
        configuration.ahead = .seconds(ahead)
        configuration.concurrency = 4
        configuration.jitter = .milliseconds(10)
        var instances: [Instance] = []
        for _ in 0..<3 {
            instances.append(try await Self.instance(location, key: key, configuration: configuration, logger: logger))
        }
        // At least three lifetimes, and until every tenant has had three grants (the first pass renews every
        // account, none having an access token; later ones the accounts whose token comes within `ahead` of its
        // expiry). How long that takes depends on the machine, which is not what this test is about; 3 minutes is
        // the limit.
        let clock = ContinuousClock()
        let started = clock.now
        func everyTenantRenewedThrice() -> Bool {
            names.allSatisfy { (fake.accessTokenExpiries(ofChainWith: firstTokens[$0]!)?.count ?? 0) >= 3 }
        }
        await withTaskGroup(of: Void.self) { group in
            for instance in instances { group.addTask { try? await instance.refresher.run() } }
            while clock.now - started < .seconds(3 * lifetime) || !everyTenantRenewedThrice() {
                guard clock.now - started < .seconds(180) else { break }
                try? await Task.sleep(for: .seconds(1))
            }
            group.cancelAll()
        }
        let stats = fake.stats
        #expect(stats.invalidGrant == 0, "\(stats)")
        #expect(stats.refreshGrants >= 3 * names.count, "\(stats)")
        var tooSoon: [String] = []
        var tooFew: [String] = []
        for name in names {
            let expiries = try #require(fake.accessTokenExpiries(ofChainWith: firstTokens[name]!))
            if expiries.count < 3 { tooFew.append("\(name): \(expiries.count)") }
            // A second refresh of one expiry would follow the first within moments. A token is due only `ahead`
            // before its expiry, and the client dates the expiry from when the answer reached it (after the server
            // issued it): so consecutive grants of one tenant are at least `lifetime - ahead` apart.
            for (earlier, later) in zip(expiries, expiries.dropFirst())
            where later - earlier < .seconds(lifetime - ahead) - .milliseconds(250) {
                tooSoon.append("\(name): \(later - earlier)")
            }
        }
        #expect(tooSoon.isEmpty, "refreshed again before the token was due: \(tooSoon.prefix(10))")
        #expect(tooFew.isEmpty, "not renewed over several lifetimes: \(tooFew.prefix(10))")
        let accounts = try await vault.accounts()
        #expect(accounts.count == names.count)
        #expect(accounts.allSatisfy { $0.status == .ok }, "\(accounts.filter { $0.status != .ok }.map(\.name))")
        #expect(try await vault.verify().isSound)
        for instance in instances {
            try? await instance.http.shutdown()
            await instance.store.close()
        }
        await setup.close()
        await fake.stop()
    }

    @Test("an account backing off after a failure is skipped by every instance's pass, until its next attempt")
    func backoffSharedThroughPostgres() async throws {
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let server = try PostgresTestServer.configured()
        let location = try PostgresLocation(url: server.url(schema: PostgresTestServer.uniqueSchema()))
        let key = KeyFileKey.generate()
        let setup = try await PostgresCredentialStore.connect(to: location, password: server.password, create: true)
        let vault = try await CredentialVault.create(in: setup, slots: [.key(key)], logger: logger)
        let fake = try await FakeSendcloud.start(registering: [Harness.clientID: Harness.clientSecret])
        for name: AccountName in ["failing", "healthy"] {
            try await vault.addAccount(
                Account(name: name, mode: .refreshToken, clientID: Harness.clientID, tokenURL: fake.tokenURL),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: Harness.clientSecret),
                    refreshToken: SecureBytes(utf8: fake.issueRefreshToken(clientID: Harness.clientID))
                )
            )
        }
        var configuration = TokenRefresher.Configuration()
        configuration.jitter = .zero
        let one = try await Self.instance(location, key: key, configuration: configuration, logger: logger)
        let two = try await Self.instance(location, key: key, configuration: configuration, logger: logger)
        do {
            fake.setPermanentFault(.internalServerError)
            _ = try await one.refresher.refreshDue(names: ["failing"])
            fake.setPermanentFault(nil)
            let failed = try await vault.account(named: "failing")
            #expect(failed.consecutiveFailures == 1)
            #expect(try #require(failed.nextAttemptAt) > Date())
            fake.resetStats()
            // The other instance, with its own connections, leaves it alone and renews the healthy one.
            #expect(try await two.refresher.dueAccounts() == ["healthy"])
            let outcomes = try await two.refresher.refreshDue()
            #expect(outcomes.map(\.account) == ["healthy"])
            #expect(fake.stats.refreshGrants == 1)
            // Once its next attempt has come, it is due on either instance.
            let (account, secrets) = try await vault.openAccount(named: "failing")
            var due = account
            due.nextAttemptAt = Date().addingTimeInterval(-1)
            _ = try await vault.updateAccount(due, secrets: secrets, expectedGeneration: account.generation)
            #expect(try await one.refresher.dueAccounts() == ["failing"])
        } catch {
            Issue.record("\(error)")
        }
        for instance in [one, two] {
            try? await instance.http.shutdown()
            await instance.store.close()
        }
        await setup.close()
        await fake.stop()
    }
}
