import AsyncHTTPClient
import Baselines
import CredentialVault
import CredentialVaultSQLite
import Foundation
import GRDB
import Logging
import SendcloudOAuth

/// A real vault file of `accounts` refresh-token accounts (a 40-byte client secret, a 64-byte refresh token and a
/// 1 KiB access token valid for a day, each), made once per process through the library, with every baseline's
/// handle on the same file: the SQLite C API with its statements prepared, and a GRDB queue.
final class SQLiteFixture: Sendable {
    let accounts: Int
    let directory: String
    let path: String
    let key: KeyFileKey
    let vault: CredentialVault
    let store: SQLiteCredentialStore
    /// Holds every account's access token in memory after ``holdAllTokens()``, as a long-running backend does.
    let provider: TokenProvider
    let http: HTTPClient
    /// The raw C API on the same file; used by one benchmark at a time (the suite runs them one after another).
    nonisolated(unsafe) let raw: RawSQLite
    let grdb: DatabaseQueue
    /// The account the reads read: the one in the middle of the name order.
    let middle: AccountName

    static let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }

    init(accounts: Int) async throws {
        self.accounts = accounts
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("vault-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        path = directory + "/vault.sqlite"
        key = KeyFileKey.generate()
        vault = try await CredentialVault.create(
            in: SQLiteCredentialStore(path: path, create: true),
            slots: [.key(key)],
            logger: Self.logger
        )
        for i in 0..<accounts {
            try await vault.addAccount(
                Account(
                    name: try AccountName("tenant-\(i)"),
                    mode: .refreshToken,
                    clientID: "client-\(i)",
                    tokenURL: "https://account.sendcloud.com/oauth2/token",
                    accessTokenExpiresAt: Date().addingTimeInterval(86400)
                ),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: String(repeating: "s", count: 40)),
                    refreshToken: SecureBytes(utf8: String(repeating: "r", count: 64)),
                    accessToken: SecureBytes(utf8: String(repeating: "a", count: 1024))
                )
            )
        }
        store = try SQLiteCredentialStore(path: path)
        http = HTTPClient(eventLoopGroupProvider: .singleton)
        var configuration = TokenProvider.Configuration()
        configuration.accessTokenCacheLimit = 100_000
        provider = TokenProvider(
            vault: vault,
            client: TokenEndpointClient(httpClient: http, logger: Self.logger),
            configuration: configuration,
            logger: Self.logger
        )
        raw = RawSQLite(path: path, columns: AccountColumn.allCases.map(\.rawValue))
        grdb = try DatabaseQueue(path: path)
        middle = try AccountName("tenant-\(accounts / 2)")
    }

    /// Reads every account's token once through the provider, which then holds them all.
    func holdAllTokens() async throws {
        for i in 0..<accounts {
            let token = try await provider.accessToken(for: try AccountName("tenant-\(i)"))
            precondition(!token.obtainedFromServer)
        }
    }

    /// The fixtures made so far in this process, by size, each on first use. ordo-one/benchmark runs each benchmark
    /// in a process of its own (and its shutdown hook after each), so a fixture serves one benchmark: it is made in
    /// the warm-up, before the measured iterations.
    private static let made = Made()

    static func of(accounts: Int) async throws -> SQLiteFixture { try await made.fixture(accounts: accounts) }

    /// Removes every fixture's folder (the suite's shutdown hook).
    static func removeAll() async { await made.removeAll() }

    private actor Made {
        var fixtures: [Int: SQLiteFixture] = [:]

        func fixture(accounts: Int) async throws -> SQLiteFixture {
            if let fixture = fixtures[accounts] { return fixture }
            let fixture = try await SQLiteFixture(accounts: accounts)
            fixtures[accounts] = fixture
            return fixture
        }

        func removeAll() async {
            for fixture in fixtures.values {
                try? await fixture.http.shutdown()
                try? FileManager.default.removeItem(atPath: fixture.directory)
            }
            fixtures = [:]
        }
    }
}
