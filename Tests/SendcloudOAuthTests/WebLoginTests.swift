import AsyncHTTPClient
import CredentialVault
import CredentialVaultPostgres
import CredentialVaultSQLite
import Foundation
import InMemoryLogging
import Logging
import SendcloudOAuth
import SendcloudTesting
import TestSupport
import Testing

/// Several instances of one vault — separate store objects, vaults, HTTP clients, providers and web logins, as
/// separate processes or hosts would have — and the fake Sendcloud they log in with.
final class WebLoginCluster: Sendable {
    static let redirectURI = "http://127.0.0.1:9/callback"

    struct Instance: Sendable {
        let vault: CredentialVault
        let provider: TokenProvider
        let login: WebLogin
        let http: HTTPClient
    }

    let server: FakeSendcloud
    let instances: [Instance]
    /// The browser: follows no redirects, so that the test reads the callback's query.
    let browser: HTTPClient
    let key: KeyFileKey
    /// The browser's binding (a cookie's value, as a backend would set it at /connect), for every login it starts.
    let binding = SecureBytes(utf8: WebLogin.makeBinding())
    private let closeStores: @Sendable () async -> Void
    private let keep: TempDir?

    var first: Instance { instances[0] }
    var second: Instance { instances[1] }

    private init(
        server: FakeSendcloud,
        instances: [Instance],
        key: KeyFileKey,
        keep: TempDir?,
        closeStores: @escaping @Sendable () async -> Void
    ) {
        self.server = server
        self.instances = instances
        self.key = key
        self.keep = keep
        self.closeStores = closeStores
        browser = makeNonRedirectingHTTPClient()
    }

    static func instance(_ vault: CredentialVault, server: FakeSendcloud, logger: Logger) -> Instance {
        let http = TokenEndpointClient.makeHTTPClient(configuration: Harness.fastClient)
        let provider = TokenProvider(
            vault: vault,
            client: TokenEndpointClient(httpClient: http, configuration: Harness.fastClient, logger: logger),
            logger: logger
        )
        var configuration = WebLogin.Configuration()
        configuration.authorizeURL = server.authorizeURL
        return Instance(
            vault: vault,
            provider: provider,
            login: WebLogin(provider: provider, configuration: configuration),
            http: http
        )
    }

    /// `count` instances over one SQLite vault file (one store object each).
    static func sqlite(count: Int = 2, logger: Logger = WebLoginCluster.quiet) async throws -> WebLoginCluster {
        let dir = try TempDir(prefix: "scv-weblogin")
        let path = dir.file("vault.sqlite")
        let key = KeyFileKey.generate()
        let server = try await FakeSendcloud.start(clients: [Harness.clientID: Harness.clientSecret])
        var vaults = [
            try await CredentialVault.create(
                in: SQLiteCredentialStore(path: path, create: true),
                slots: [.key(key)],
                logger: logger
            )
        ]
        for _ in 1..<count {
            vaults.append(
                try await CredentialVault.open(SQLiteCredentialStore(path: path), with: .key(key), logger: logger)
            )
        }
        return WebLoginCluster(
            server: server,
            instances: vaults.map { instance($0, server: server, logger: logger) },
            key: key,
            keep: dir,
            closeStores: {}
        )
    }

    /// `count` instances over one PostgreSQL vault (a schema of its own; one `PostgresCredentialStore` each).
    static func postgres(count: Int = 2, logger: Logger = WebLoginCluster.quiet) async throws -> WebLoginCluster {
        let database = try PostgresTestServer.configured()
        let location = try PostgresLocation(url: database.url(schema: PostgresTestServer.uniqueSchema("weblogin")))
        let key = KeyFileKey.generate()
        let server = try await FakeSendcloud.start(clients: [Harness.clientID: Harness.clientSecret])
        var stores = [
            try await PostgresCredentialStore.connect(to: location, password: database.password, create: true)
        ]
        var vaults = [try await CredentialVault.create(in: stores[0], slots: [.key(key)], logger: logger)]
        for _ in 1..<count {
            let store = try await PostgresCredentialStore.connect(to: location, password: database.password)
            stores.append(store)
            vaults.append(try await CredentialVault.open(store, with: .key(key), logger: logger))
        }
        let opened = stores
        return WebLoginCluster(
            server: server,
            instances: vaults.map { instance($0, server: server, logger: logger) },
            key: key,
            keep: nil,
            closeStores: { for store in opened { await store.close() } }
        )
    }

    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func stop() async {
        try? await browser.shutdown()
        for instance in instances { try? await instance.http.shutdown() }
        await closeStores()
        await server.stop()
    }

    /// A request for a new account `name` with the registered client and its secret.
    func request(_ name: AccountName, mayReplace: Bool = false) -> WebLoginRequest {
        WebLoginRequest(
            account: name,
            clientID: Harness.clientID,
            clientSecret: SecureBytes(utf8: Harness.clientSecret),
            redirectURI: Self.redirectURI,
            tokenURL: server.tokenURL,
            mayReplace: mayReplace
        )
    }

    /// Plays the browser: follows the authorize URL to the server's redirect and returns the callback's query.
    func approve(_ start: WebLoginStart) async throws -> [String: String] {
        let answer = try await AuthorizeAnswer.redirect(start.authorizeURL, http: browser)
        let location = try #require(answer.location)
        #expect(location.hasPrefix(Self.redirectURI + "?"))
        #expect(answer.query["state"] == start.state)
        return answer.query
    }
}

/// Where a cluster's vault lives.
enum ClusterBackend {
    case sqlite(count: Int = 2)
    case postgres(count: Int = 2)
}

/// Runs `body` with a cluster of `backend`, its parts logging to `logger`, and always stops it.
func withCluster(
    _ backend: ClusterBackend = .sqlite(),
    logger: Logger = WebLoginCluster.quiet,
    _ body: (WebLoginCluster) async throws -> Void
) async throws {
    let cluster: WebLoginCluster
    switch backend {
    case .sqlite(let count): cluster = try await .sqlite(count: count, logger: logger)
    case .postgres(let count): cluster = try await .postgres(count: count, logger: logger)
    }
    try await withClosing(cluster, close: { await $0.stop() }, body)
}

/// The state's bytes (base64url without padding) and back.
enum StateBytes {
    static func decode(_ state: String) throws -> [UInt8] {
        var text = state.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        text += String(repeating: "=", count: (4 - text.count % 4) % 4)
        return [UInt8](try #require(Data(base64Encoded: text)))
    }

    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

@Suite("Web login across instances (SQLite)")
struct WebLoginTests {
    @Test("started on one instance, completed on another: the account is stored, its tokens work and rotate")
    func startOnOneCompleteOnAnother() async throws {
        try await withCluster { cluster in
            let start = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            #expect(start.authorizeURL.hasPrefix(cluster.server.authorizeURL + "?"))
            #expect(start.expiresAt > Date())
            // The client secret travels sealed: neither its text nor its bytes are in the state.
            let secret = Array(Harness.clientSecret.utf8)
            let stateBytes = try StateBytes.decode(start.state)
            #expect(!stateBytes.indices.contains { stateBytes[$0...].starts(with: secret) })

            let callback = try await cluster.approve(start)
            let account = try await cluster.second.login.complete(callback: callback, binding: cluster.binding)
            #expect(account.name == "acme")
            #expect(account.mode == .refreshToken)
            #expect(account.status == .ok)
            #expect(account.clientID == Harness.clientID)
            #expect(account.tokenURL == cluster.server.tokenURL)
            #expect(account.scopes == "api offline_access")
            #expect(account.storedFields.isSuperset(of: [.clientSecret, .refreshToken, .accessToken]))

            // The first instance reads what the second stored, and the tokens are the server's.
            let (_, secrets) = try await cluster.first.vault.openAccount(named: "acme")
            let refresh = try #require(secrets.refreshToken?.string)
            let access = try #require(secrets.accessToken?.string)
            #expect(cluster.server.isRefreshTokenActive(refresh))
            #expect(cluster.server.isAccessTokenValid(access))
            #expect(secrets.clientSecret?.string == Harness.clientSecret)
            let form = try #require(cluster.server.receivedForms.last)
            #expect(form["grant_type"] == "authorization_code")
            #expect(form["redirect_uri"] == WebLoginCluster.redirectURI)
            #expect(form["code_verifier"]?.utf8.count == 43)

            // A refresh on the first instance rotates the refresh token and stores the new one.
            _ = try await cluster.first.provider.refresh("acme")
            let rotated = try #require(try await cluster.second.vault.openAccount(named: "acme").secrets.refreshToken)
            #expect(rotated.string != refresh)
            #expect(cluster.server.isRefreshTokenActive(rotated.string))
            #expect(!cluster.server.isRefreshTokenActive(refresh))
            #expect(cluster.server.stats.authorizationCodeGrants == 1)
            #expect(cluster.server.stats.refreshGrants == 1)
        }
    }

    @Test("a state presented again is refused before the token endpoint: one authorization_code grant")
    func reuseIsRefused() async throws {
        try await withCluster { cluster in
            let start = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            let callback = try await cluster.approve(start)
            _ = try await cluster.second.login.complete(callback: callback, binding: cluster.binding)
            let stored = try await cluster.first.vault.account(named: "acme")
            for instance in [cluster.first, cluster.second] {
                let error = await expectOAuthError(.authorizationFailed) {
                    try await instance.login.complete(callback: callback, binding: cluster.binding)
                }
                #expect(error?.message.contains("used already") == true)
            }
            #expect(cluster.server.stats.authorizationCodeGrants == 1)
            #expect(cluster.server.stats.tokenRequests == 1)
            #expect(try await cluster.first.vault.account(named: "acme").generation == stored.generation)
        }
    }

    @Test("concurrent completes of one state, on two instances: exactly one succeeds")
    func concurrentCompletes() async throws {
        try await withCluster { cluster in
            let start = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            let callback = try await cluster.approve(start)
            let outcomes = await withTaskGroup(of: Result<Account, any Error>.self) { group in
                for index in 0..<12 {
                    let instance = cluster.instances[index % 2]
                    group.addTask {
                        do {
                            return .success(
                                try await instance.login.complete(callback: callback, binding: cluster.binding)
                            )
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var all: [Result<Account, any Error>] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
            let successes = outcomes.filter { if case .success = $0 { true } else { false } }
            #expect(successes.count == 1)
            for case .failure(let error) in outcomes {
                #expect((error as? OAuthError)?.code == .authorizationFailed, "\(error)")
            }
            #expect(cluster.server.stats.authorizationCodeGrants == 1)
            #expect(cluster.server.stats.tokenRequests == 1)
        }
    }

    @Test("an expired state is refused, and nothing reaches the token endpoint")
    func expiredIsRefused() async throws {
        try await withCluster { cluster in
            let start = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            let callback = try await cluster.approve(start)
            let error = await expectOAuthError(.authorizationFailed) {
                try await cluster.second.login.complete(
                    callback: callback,
                    binding: cluster.binding,
                    now: start.expiresAt
                )
            }
            #expect(error?.message.contains("expired") == true)

            // A login started with a zero lifetime is expired at once.
            var configuration = WebLogin.Configuration()
            configuration.authorizeURL = cluster.server.authorizeURL
            configuration.stateLifetime = .zero
            let hasty = WebLogin(provider: cluster.first.provider, configuration: configuration)
            let instant = try await hasty.start(cluster.request("other"), binding: cluster.binding)
            let instantCallback = try await cluster.approve(instant)
            await expectOAuthError(.authorizationFailed) {
                try await cluster.second.login.complete(callback: instantCallback, binding: cluster.binding)
            }
            #expect(cluster.server.stats.tokenRequests == 0)
            await expectVaultError(.notFound) { try await cluster.first.vault.account(named: "acme") }
        }
    }

    @Test("a tampered or truncated state is refused, revealing nothing; the genuine one still works")
    func tamperedIsRefused() async throws {
        try await withCluster { cluster in
            let start = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            let callback = try await cluster.approve(start)
            let bytes = try StateBytes.decode(start.state)
            var forgeries: [String] = []
            // One flipped bit in the version, key id, expiry, nonce, ciphertext and tag.
            for position in [0, 1, 4, 5, 12, 13, 36, 37, bytes.count / 2, bytes.count - 17, bytes.count - 1] {
                var flipped = bytes
                flipped[position] ^= 0x01
                forgeries.append(StateBytes.encode(flipped))
            }
            forgeries += [
                String(start.state.dropLast()), String(start.state.dropLast(22)),
                String(start.state.prefix(start.state.count / 2)), String(start.state.prefix(16)),
                start.state + "AAAA", StateBytes.encode(bytes + [0]), "!" + start.state.dropFirst(), "x",
            ]
            for forged in forgeries {
                var parameters = callback
                parameters["state"] = forged
                let error = await expectOAuthError(.authorizationFailed) {
                    try await cluster.second.login.complete(callback: parameters, binding: cluster.binding)
                }
                let text = (error.map { "\($0) \(String(reflecting: $0))" }) ?? ""
                #expect(!text.contains(start.state.prefix(24)) && !text.contains(forged.prefix(24)))
                #expect(!text.contains(Harness.clientSecret) && !text.contains("acme"))
            }
            await expectOAuthError(.authorizationFailed) {
                try await cluster.second.login.complete(
                    callback: callback.filter { $0.key != "state" },
                    binding: cluster.binding
                )
            }
            #expect(cluster.server.stats.tokenRequests == 0)
            // Refused forgeries claim nothing: the genuine state completes.
            let account = try await cluster.second.login.complete(callback: callback, binding: cluster.binding)
            #expect(account.name == "acme")
        }
    }

    @Test("a state presented to another vault (another key) is refused")
    func anotherVaultRefuses() async throws {
        try await withCluster { cluster in
            try await withCluster(.sqlite(count: 1)) { foreign in
                let start = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
                let callback = try await cluster.approve(start)
                let error = await expectOAuthError(.authorizationFailed) {
                    try await foreign.first.login.complete(callback: callback, binding: cluster.binding)
                }
                #expect(error?.message.contains("not valid") == true)
                #expect(foreign.server.stats.tokenRequests == 0)
                #expect(cluster.server.stats.tokenRequests == 0)
                // And the other way round.
                let theirs = try await foreign.first.login.start(foreign.request("acme"), binding: foreign.binding)
                let theirCallback = try await foreign.approve(theirs)
                await expectOAuthError(.authorizationFailed) {
                    try await cluster.second.login.complete(callback: theirCallback, binding: foreign.binding)
                }
            }
        }
    }

    @Test("a sealed state of another purpose is refused, and the vault opens a state for its own purpose only")
    func anotherPurposeRefused() async throws {
        try await withCluster { cluster in
            let start = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            let callback = try await cluster.approve(start)
            let foreignPurpose = try await cluster.first.vault.sealState(
                SecureBytes(utf8: "not a login"),
                purpose: "invoices/export",
                expiresAt: Date().addingTimeInterval(600)
            )
            var parameters = callback
            parameters["state"] = foreignPurpose
            await expectOAuthError(.authorizationFailed) {
                try await cluster.second.login.complete(callback: parameters, binding: cluster.binding)
            }
            await expectVaultError(.invalidInput) {
                try await cluster.second.vault.openState(start.state, purpose: "invoices/export")
            }
            let opened = try await cluster.second.vault.openState(foreignPurpose, purpose: "invoices/export")
            #expect(opened.string == "not a login")
            #expect(cluster.server.stats.tokenRequests == 0)
        }
    }

    @Test("an error redirect is refused with the server's error, stores nothing, and leaves the state unused")
    func errorRedirectRefused() async throws {
        try await withCluster { cluster in
            let start = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            let error = await expectOAuthError(.authorizationFailed) {
                try await cluster.second.login.complete(
                    callback: [
                        "state": start.state, "error": "access_denied",
                        "error_description": "The resource owner denied the request.\u{1B}[31m",
                    ],
                    binding: cluster.binding
                )
            }
            #expect(error?.oauthError == "access_denied")
            #expect(error?.message.contains("access_denied") == true)
            #expect(error?.message.contains("\u{1B}") == false)
            #expect(cluster.server.stats.tokenRequests == 0)
            await expectVaultError(.notFound) { try await cluster.first.vault.account(named: "acme") }
            // The merchant tries again in the same browser: the state was not used up by the refusal.
            let callback = try await cluster.approve(start)
            #expect(try await cluster.first.login.complete(callback: callback, binding: cluster.binding).name == "acme")
        }
    }

    @Test("a data-key rotation invalidates the states in flight on every instance; new ones work")
    func keyRotationInvalidates() async throws {
        try await withCluster { cluster in
            let before = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            let callback = try await cluster.approve(before)
            try await cluster.first.vault.rotateDataKey(dropOtherSlots: false)
            for instance in [cluster.second, cluster.first] {
                await expectOAuthError(.authorizationFailed) {
                    try await instance.login.complete(callback: callback, binding: cluster.binding)
                }
            }
            #expect(cluster.server.stats.tokenRequests == 0)
            // The second instance still holds the old key until it reloads: a state it seals now opens everywhere.
            let after = try await cluster.second.login.start(cluster.request("acme"), binding: cluster.binding)
            let account = try await cluster.first.login.complete(
                callback: try await cluster.approve(after),
                binding: cluster.binding
            )
            #expect(account.name == "acme")
        }
    }

    @Test("re-authorization with the stored client secret, completed on the other instance")
    func reauthorizationUsesTheStoredSecret() async throws {
        try await withCluster { cluster in
            let first = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            let account = try await cluster.second.login.complete(
                callback: try await cluster.approve(first),
                binding: cluster.binding
            )
            let (stored, storedSecrets) = try await cluster.first.vault.openAccount(named: "acme")
            let oldRefresh = try #require(storedSecrets.refreshToken)

            let request = WebLoginRequest.reauthorization(of: account, redirectURI: WebLoginCluster.redirectURI)
            #expect(request.clientSecret == nil)
            let again = try await cluster.second.login.start(request, binding: cluster.binding)
            let reauthorized = try await cluster.first.login.complete(
                callback: try await cluster.approve(again),
                binding: cluster.binding
            )
            #expect(reauthorized.status == .ok)
            #expect(reauthorized.generation > account.generation)
            #expect(reauthorized.createdAt == stored.createdAt)
            let secrets = try await cluster.second.vault.openAccount(named: "acme").secrets
            #expect(secrets.clientSecret?.string == Harness.clientSecret)
            #expect(secrets.refreshToken != oldRefresh)
            #expect(cluster.server.isRefreshTokenActive(try #require(secrets.refreshToken?.string)))
            let authorizations = cluster.server.receivedAuthorizationHeaders
            #expect(authorizations.count == 2 && authorizations[0] == authorizations[1])
        }
    }

    @Test("start refuses what cannot complete: a new account without secret, another client, no mayReplace, http")
    func startChecks() async throws {
        try await withCluster { cluster in
            let login = cluster.first.login
            var noSecret = cluster.request("newcomer")
            noSecret.clientSecret = nil
            await expectOAuthError(.authorizationFailed) { try await login.start(noSecret, binding: cluster.binding) }

            _ = try await cluster.second.login.complete(
                callback: try await cluster.approve(
                    try await login.start(cluster.request("acme"), binding: cluster.binding)
                ),
                binding: cluster.binding
            )
            var otherClient = cluster.request("acme")
            otherClient.clientSecret = nil
            otherClient.clientID = "another-client"
            otherClient.mayReplace = true
            await expectOAuthError(.authorizationFailed) {
                try await login.start(otherClient, binding: cluster.binding)
            }
            await expectVaultError(.alreadyExists) {
                try await login.start(cluster.request("acme"), binding: cluster.binding)
            }

            for uri in ["http://example.com/callback", "ftp://127.0.0.1/cb", "/callback"] {
                var insecure = cluster.request("acme")
                insecure.redirectURI = uri
                await expectOAuthError(.insecureTokenURL) { try await login.start(insecure, binding: cluster.binding) }
            }
            var insecureToken = cluster.request("acme")
            insecureToken.tokenURL = "http://example.com/oauth2/token"
            await expectOAuthError(.insecureTokenURL) { try await login.start(insecureToken, binding: cluster.binding) }
        }
    }

    @Test("a login completed with another browser's binding is refused, stores nothing, and stays usable")
    func anotherBindingRefused() async throws {
        try await withCluster { cluster in
            // Login CSRF: someone else's authorize URL (started with their binding) completed in this browser.
            let start = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            let callback = try await cluster.approve(start)
            let otherText = WebLogin.makeBinding()
            #expect(otherText.utf8.count == 43)
            #expect(otherText.utf8.allSatisfy { $0 < 0x80 && !"+/=;, ".utf8.contains($0) })
            let other = SecureBytes(utf8: otherText)
            for instance in [cluster.first, cluster.second] {
                let error = await expectOAuthError(.authorizationFailed) {
                    try await instance.login.complete(callback: callback, binding: other)
                }
                #expect(error?.message.contains("another browser session") == true)
                let text = error.map { "\($0) \(String(reflecting: $0))" } ?? ""
                #expect(!text.contains(otherText) && !text.contains(start.state.prefix(24)))
            }
            let query = callback.sorted { $0.key < $1.key }.map { name, value in
                name + "=" + (value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value)
            }.joined(separator: "&")
            await expectOAuthError(.authorizationFailed) {
                try await cluster.second.login.complete(query: query, binding: other)
            }
            // A binding that differs in its last byte only is another binding.
            let near = SecureBytes(utf8: String(try #require(cluster.binding.unsafeStringValue()).dropLast()) + "!")
            await expectOAuthError(.authorizationFailed) {
                try await cluster.second.login.complete(callback: callback, binding: near)
            }
            #expect(cluster.server.stats.tokenRequests == 0)
            await expectVaultError(.notFound) { try await cluster.first.vault.account(named: "acme") }

            // The refusals did not use the state up: the browser that started the login completes it.
            let account = try await cluster.second.login.complete(query: query, binding: cluster.binding)
            #expect(account.name == "acme")
            #expect(cluster.server.stats.authorizationCodeGrants == 1)
        }
    }

    @Test("a binding shorter than 16 bytes is refused at start and at completion; 16 bytes are enough")
    func shortBindingRefused() async throws {
        try await withCluster { cluster in
            let login = cluster.first.login
            for short in ["", "a", "fifteen-bytes!!"] {
                let error = await expectOAuthError(.authorizationFailed) {
                    try await login.start(cluster.request("acme"), binding: SecureBytes(utf8: short))
                }
                #expect(error?.message.contains("fewer than 16") == true)
            }
            let sixteen = SecureBytes(utf8: "sixteen-bytes!!!")
            #expect(sixteen.count == WebLogin.minimumBindingBytes)
            let start = try await login.start(cluster.request("acme"), binding: sixteen)
            let callback = try await cluster.approve(start)
            for short in ["", "sixteen-bytes!!"] {
                await expectOAuthError(.authorizationFailed) {
                    try await cluster.second.login.complete(callback: callback, binding: SecureBytes(utf8: short))
                }
            }
            #expect(cluster.server.stats.tokenRequests == 0)
            #expect(try await cluster.second.login.complete(callback: callback, binding: sixteen).name == "acme")
        }
    }

    @Test("start refuses a request over 2048 bytes; one of 2048 bytes makes a state that opens")
    func overlongRequestRefused() async throws {
        try await withCluster { cluster in
            let login = cluster.first.login
            var request = cluster.request("acme")
            let fixed = [request.tokenURL, request.scopes, request.redirectURI].reduce(0) { $0 + $1.utf8.count }
            let secretBytes = try #require(request.clientSecret).count
            request.clientID = String(repeating: "c", count: WebLogin.maximumRequestBytes - fixed - secretBytes)
            let start = try await login.start(request, binding: cluster.binding)
            #expect(start.state.utf8.count < 4096)
            // The state opens and decodes: what refuses it is the binding, not its length.
            let error = await expectOAuthError(.authorizationFailed) {
                try await cluster.second.login.complete(
                    callback: ["state": start.state, "code": "x"],
                    binding: SecureBytes(utf8: WebLogin.makeBinding())
                )
            }
            #expect(error?.message.contains("another browser session") == true)

            request.clientID += "c"
            let refused = await expectOAuthError(.authorizationFailed) {
                try await login.start(request, binding: cluster.binding)
            }
            #expect(refused?.message.contains("2049 bytes") == true)
            #expect(refused?.message.contains("2048") == true)
            // The client secret counts too.
            var bigSecret = cluster.request("acme")
            bigSecret.clientSecret = SecureBytes(count: 2000) { $0.initializeMemory(as: UInt8.self, repeating: 0x73) }
            await expectOAuthError(.authorizationFailed) { try await login.start(bigSecret, binding: cluster.binding) }
            bigSecret.clientSecret = SecureBytes(count: 0) { _ in }
            await expectOAuthError(.authorizationFailed) { try await login.start(bigSecret, binding: cluster.binding) }
            #expect(cluster.server.stats.tokenRequests == 0)
        }
    }

    @Test("sealState refuses to make a state longer than openState reads; the longest it makes opens")
    func sealStateLengthLimit() async throws {
        try await withCluster { cluster in
            let vault = cluster.first.vault
            let expiry = Date().addingTimeInterval(600)
            // 13 header + 24 nonce + 16 tag + 12,235 bytes = 12,288 bytes: 16,384 characters of base64url.
            let largest = SecureBytes(count: 12_235) { $0.initializeMemory(as: UInt8.self, repeating: 0xA5) }
            let state = try await vault.sealState(largest, purpose: "test/large", expiresAt: expiry)
            #expect(state.utf8.count == CredentialVault.maximumSealedStateLength)
            #expect(try await cluster.second.vault.openState(state, purpose: "test/large") == largest)
            let tooLarge = SecureBytes(count: 12_236) { $0.initializeMemory(as: UInt8.self, repeating: 0xA5) }
            await expectVaultError(.invalidInput) {
                try await vault.sealState(tooLarge, purpose: "test/large", expiresAt: expiry)
            }
        }
    }

    @Test("without mayReplace (the default) an existing account is refused at start and at completion")
    func mayReplaceDefaultRefusesExisting() async throws {
        try await withCluster { cluster in
            let request = WebLoginRequest(
                account: "acme",
                clientID: Harness.clientID,
                clientSecret: SecureBytes(utf8: Harness.clientSecret),
                redirectURI: WebLoginCluster.redirectURI,
                tokenURL: cluster.server.tokenURL
            )
            #expect(!request.mayReplace)
            // Two logins for a tenant that does not exist yet: the first to complete stores it.
            let early = try await cluster.first.login.start(request, binding: cluster.binding)
            let late = try await cluster.second.login.start(request, binding: cluster.binding)
            let earlyCallback = try await cluster.approve(early)
            let lateCallback = try await cluster.approve(late)
            let stored = try await cluster.first.login.complete(callback: lateCallback, binding: cluster.binding)
            let refreshToken = try await cluster.first.vault.openAccount(named: "acme").secrets.refreshToken
            await expectVaultError(.alreadyExists) {
                try await cluster.second.login.complete(callback: earlyCallback, binding: cluster.binding)
            }
            await expectVaultError(.alreadyExists) {
                try await cluster.first.login.start(request, binding: cluster.binding)
            }
            // Refused before the code was spent; the stored account is untouched.
            #expect(cluster.server.stats.authorizationCodeGrants == 1)
            #expect(try await cluster.second.vault.account(named: "acme").generation == stored.generation)
            #expect(try await cluster.second.vault.openAccount(named: "acme").secrets.refreshToken == refreshToken)
            // Re-authorization replaces it.
            let reauthorization = WebLoginRequest.reauthorization(of: stored, redirectURI: WebLoginCluster.redirectURI)
            #expect(reauthorization.mayReplace)
            let again = try await cluster.first.login.start(reauthorization, binding: cluster.binding)
            let replaced = try await cluster.second.login.complete(
                callback: try await cluster.approve(again),
                binding: cluster.binding
            )
            #expect(replaced.generation > stored.generation)
        }
    }

    @Test("the raw query string form of complete")
    func completeFromQueryString() async throws {
        try await withCluster { cluster in
            let start = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            let answer = try await AuthorizeAnswer.redirect(start.authorizeURL, http: cluster.browser)
            let location = try #require(answer.location)
            let query = try #require(location.split(separator: "?", maxSplits: 1).last)
            #expect(
                try await cluster.second.login.complete(query: String(query), binding: cluster.binding).name == "acme"
            )
        }
    }

    @Test("logs and errors of logins and refusals contain no secret, code, verifier or state")
    func nothingSecretInLogsOrErrors() async throws {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "test") { _ in handler }
        logger.logLevel = .trace
        try await withCluster(logger: logger) { cluster in
            let start = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            let callback = try await cluster.approve(start)
            _ = try await cluster.second.login.complete(callback: callback, binding: cluster.binding)
            var errors: [String] = []
            for parameters in [callback, ["state": start.state, "error": "access_denied"], ["state": "AAAA"]] {
                do {
                    _ = try await cluster.first.login.complete(callback: parameters, binding: cluster.binding)
                } catch {
                    errors.append("\(error) \(String(reflecting: error))")
                }
            }
            #expect(errors.count == 3)
            let secrets = try await cluster.first.vault.openAccount(named: "acme").secrets
            let form = try #require(cluster.server.receivedForms.last)
            let text =
                handler.entries.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
                + errors.joined(separator: "\n")
            #expect(text.contains("acme"))
            for secret in [
                Harness.clientSecret, try #require(form["code"]), try #require(form["code_verifier"]),
                String(start.state.prefix(32)), try #require(secrets.refreshToken?.string),
                try #require(secrets.accessToken?.string),
            ] {
                #expect(!text.contains(secret))
            }
        }
    }
}

@Suite("Web login across instances (PostgreSQL)")
struct WebLoginPostgresTests {
    @Test("started on one instance, completed on another; reuse refused; concurrent completes: one succeeds")
    func acrossInstances() async throws {
        try await withCluster(.postgres(count: 3)) { cluster in
            let start = try await cluster.first.login.start(cluster.request("acme"), binding: cluster.binding)
            let account = try await cluster.second.login.complete(
                callback: try await cluster.approve(start),
                binding: cluster.binding
            )
            #expect(account.status == .ok)
            let refresh = try #require(
                try await cluster.instances[2].vault.openAccount(named: "acme").secrets.refreshToken
            )
            #expect(cluster.server.isRefreshTokenActive(refresh.string))
            await expectOAuthError(.authorizationFailed) {
                try await cluster.instances[2].login.complete(
                    callback: try await cluster.approve(start),
                    binding: cluster.binding
                )
            }
            #expect(cluster.server.stats.authorizationCodeGrants == 1)

            let contested = try await cluster.instances[2].login.start(
                cluster.request("tenant-2"),
                binding: cluster.binding
            )
            let callback = try await cluster.approve(contested)
            let successes = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<12 {
                    let instance = cluster.instances[index % 3]
                    group.addTask {
                        (try? await instance.login.complete(callback: callback, binding: cluster.binding)) != nil
                    }
                }
                var count = 0
                for await succeeded in group where succeeded { count += 1 }
                return count
            }
            #expect(successes == 1)
            #expect(cluster.server.stats.authorizationCodeGrants == 2)
            #expect(cluster.server.stats.tokenRequests == 2)
            #expect(try await cluster.first.vault.account(named: "tenant-2").status == .ok)
        }
    }
}
