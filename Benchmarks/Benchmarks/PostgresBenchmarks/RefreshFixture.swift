import AsyncHTTPClient
import Benchmark
import CredentialVault
import CredentialVaultPostgres
import Foundation
import NIOCore
import NIOHTTP1
import PostgresNIO
import SendcloudOAuth
import SendcloudTesting

/// `refresh --all` at scale on the shared store: 1,000 refresh-token accounts in a schema of their own, the fake
/// Sendcloud in this process on 127.0.0.1 (refresh tokens rotate), and instances that each have their own store
/// (default pools), vault, HTTP client, provider and refresher (concurrency 4, the CLI's default; no jitter).
final class RefreshFixture: Sendable {
    static let accounts = 1000
    static let width = 4
    static let clientID = "bench-client"
    static let clientSecret = "bench-secret"

    struct Instance: Sendable {
        let store: PostgresCredentialStore
        let http: HTTPClient
        let refresher: TokenRefresher
    }

    let fake: FakeSendcloud
    let location: PostgresLocation
    private let password: String?
    let setup: PostgresCredentialStore
    let instances: [Instance]

    init(server: PostgresServer, instances count: Int) async throws {
        let logger = PostgresFixture.logger
        fake = try await FakeSendcloud.start()
        fake.registerClient(id: Self.clientID, secret: Self.clientSecret)
        location = try server.location(schema: "bench_refresh_\(String(UInt32.random(in: 0...UInt32.max), radix: 16))")
        let password = try PostgresPassword.resolve(for: location)
        self.password = password
        setup = try await PostgresCredentialStore.connect(to: location, password: password, create: true)
        let key = KeyFileKey.generate()
        let vault = try await CredentialVault.create(in: setup, slots: [.key(key)], logger: logger)
        for i in 0..<Self.accounts {
            try await vault.addAccount(
                Account(
                    name: try AccountName(String(format: "tenant-%04d", i)),
                    mode: .refreshToken,
                    clientID: Self.clientID,
                    tokenURL: fake.tokenURL
                ),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: Self.clientSecret),
                    refreshToken: SecureBytes(utf8: fake.issueRefreshToken(clientID: Self.clientID))
                )
            )
        }
        var configuration = TokenRefresher.Configuration()
        configuration.concurrency = Self.width
        configuration.jitter = .zero
        var made: [Instance] = []
        for _ in 0..<count {
            let store = try await PostgresCredentialStore.connect(to: location, password: password)
            let vault = try await CredentialVault.open(store, with: .key(key), logger: logger)
            let client = TokenEndpointClient.Configuration()
            let http = TokenEndpointClient.makeHTTPClient(configuration: client)
            let provider = TokenProvider(
                vault: vault,
                client: TokenEndpointClient(httpClient: http, configuration: client, logger: logger),
                logger: logger
            )
            made.append(
                Instance(
                    store: store,
                    http: http,
                    refresher: TokenRefresher(provider: provider, configuration: configuration, logger: logger)
                )
            )
        }
        instances = made
    }

    /// One forced pass on every instance at once; the fake's grant and `invalid_grant` counts for it.
    func forcedPass() async throws -> (grants: Int, invalidGrants: Int) {
        let before = fake.stats
        let outcomes = try await withThrowingTaskGroup(of: [TokenRefresher.Outcome].self) { group in
            for instance in instances { group.addTask { try await instance.refresher.refreshDue(force: true) } }
            var all: [TokenRefresher.Outcome] = []
            for try await outcomes in group { all += outcomes }
            return all
        }
        precondition(outcomes.allSatisfy { if case .failure = $0.result { false } else { true } })
        let after = fake.stats
        return (after.refreshGrants - before.refreshGrants, after.invalidGrant - before.invalidGrant)
    }

    /// The fake endpoint's own rate: `accounts` refresh_token POSTs of fresh chains with AsyncHTTPClient, `width` at
    /// a time per client, from `clients` clients at once. Only the POSTs are measured: issuing the refresh tokens and
    /// making and shutting down the clients are not.
    func rawPosts(clients: Int, measuring benchmark: Benchmark) async throws {
        let tokens = (0..<Self.accounts).map { _ in fake.issueRefreshToken(clientID: Self.clientID) }
        let https = (0..<clients).map { _ in TokenEndpointClient.makeHTTPClient() }
        let url = fake.tokenURL
        let basic = "Basic " + Data("\(Self.clientID):\(Self.clientSecret)".utf8).base64EncodedString()
        benchmark.startMeasurement()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (c, http) in https.enumerated() {
                let share = Array(tokens[(c * Self.accounts / clients)..<((c + 1) * Self.accounts / clients)])
                group.addTask {
                    try await Self.concurrently(share.count, width: Self.width) { index in
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: basic)
                        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                        let token = share[index].addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                        request.body = .bytes(ByteBuffer(string: "grant_type=refresh_token&refresh_token=\(token)"))
                        let response = try await http.execute(request, timeout: .seconds(20))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        precondition(response.status == .ok, "\(response.status)")
                    }
                }
            }
            try await group.waitForAll()
        }
        benchmark.stopMeasurement()
        for http in https { try await http.shutdown() }
    }

    /// Stops the instances and the fake, and drops the schema.
    func remove() async {
        for instance in instances {
            try? await instance.http.shutdown()
            await instance.store.close()
        }
        await setup.close()
        await fake.stop()
        // The schema goes too, with a client of its own (the store has no such operation).
        let client = PostgresServer.rawClient(for: location, password: password)
        let run = Task { await client.run() }
        _ = try? await client.query(
            PostgresQuery(unsafeSQL: "DROP SCHEMA \"\(location.schema)\" CASCADE"),
            logger: PostgresFixture.logger
        ).collect()
        run.cancel()
        await run.value
    }

    /// Runs `count` jobs, `width` at a time.
    static func concurrently(
        _ count: Int,
        width: Int,
        _ job: @escaping @Sendable (Int) async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            while next < min(width, count) {
                let index = next
                group.addTask { try await job(index) }
                next += 1
            }
            while try await group.next() != nil {
                if next < count {
                    let index = next
                    group.addTask { try await job(index) }
                    next += 1
                }
            }
        }
    }
}
