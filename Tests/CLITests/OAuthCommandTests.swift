import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SendcloudTesting
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The OAuth commands (token, refresh, add --code, login) run as a user would, against a fake Sendcloud token
/// endpoint on 127.0.0.1.
@Suite("OAuth commands end to end")
struct OAuthCommandTests {
    static let clientID = "cli-client"
    static let clientSecret = "cli-secret-VALUE-42"

    let cli: CLIHarness
    let server: FakeSendcloud

    init() async throws {
        cli = try CLIHarness()
        server = try await FakeSendcloud.start(registering: [Self.clientID: Self.clientSecret])
        try await cli.initVault()
    }

    /// Adds a refresh-token account whose refresh token was issued by the server (no access token yet).
    @discardableResult
    func addRefreshAccount(
        _ name: String,
        refreshToken: String? = nil,
        secret: String = clientSecret
    ) async throws -> String {
        try await cli.addRefreshAccount(
            name,
            server: server,
            clientID: Self.clientID,
            secret: secret,
            refreshToken: refreshToken
        )
    }

    func finish() async { await server.stop() }

    @Test("token: refreshes once, prints the token and a newline only, then serves it from the vault")
    func tokenCommand() async throws {
        let rt = try await addRefreshAccount("acme")
        let first = try await cli.succeed(["token", "acme"])
        let token = first.stdout.trimmingCharacters(in: .newlines)
        #expect(first.stdout == token + "\n")
        #expect(server.isAccessTokenValid(token))
        #expect(server.stats.refreshGrants == 1)
        let second = try await cli.succeed(["token", "acme"])
        #expect(second.stdout == first.stdout)
        #expect(server.stats.tokenRequests == 1)
        // The rotated refresh token is in the vault.
        let shown = try await cli.reveal("acme")
        #expect(shown["refresh_token"] as? String != rt)
        #expect(server.isRefreshTokenActive(try #require(shown["refresh_token"] as? String)))
        #expect(shown["access_token_expires_at"] is String)
        #expect(shown["refreshed_at"] is String)

        let header = try await cli.succeed(["token", "acme", "--header"])
        #expect(header.stdout == "Authorization: Bearer \(token)\n")
        let json = try #require(try await cli.succeed(["token", "acme", "--json"]).jsonObject)
        #expect(json["access_token"] as? String == token)
        #expect(json["token_type"] as? String == "bearer")
        #expect(json["expires_at"] is String)
        #expect(!first.stderr.contains(token) && !first.stderr.contains(Self.clientSecret))
        await finish()
    }

    @Test("token: client-credentials accounts get a token with scope api; basic accounts need --header")
    func otherModes() async throws {
        try await cli.succeed(
            ["add", "cc", "--client-id", Self.clientID, "--client-secret-file", "-", "--token-url", server.tokenURL],
            stdin: Data(Self.clientSecret.utf8)
        )
        let token = try await cli.succeed(["token", "cc"]).stdout.trimmingCharacters(in: .newlines)
        #expect(server.isAccessTokenValid(token))
        #expect(server.receivedForms.last?["scope"] == "api")

        try await cli.succeed(
            ["add", "legacy", "--mode", "basic", "--client-id", "pub", "--client-secret-file", "-"],
            stdin: Data("sec".utf8)
        )
        let refused = try await cli.vaultRun(["token", "legacy"])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--header"))
        let basic = try await cli.succeed(["token", "legacy", "--header"])
        #expect(basic.stdout == "Authorization: Basic \(Data("pub:sec".utf8).base64EncodedString())\n")
        await finish()
    }

    @Test("16 processes running `token` at once on an expired account: one refresh, one token for all")
    func sixteenProcesses() async throws {
        try await addRefreshAccount("acme")
        server.injectFaults([.slow(seconds: 0.3)])  // hold the first refresh so that the others queue on the lock
        let results = try await withThrowingTaskGroup(of: CLIResult.self) { group in
            for _ in 0..<16 { group.addTask { try await cli.vaultRun(["token", "acme"]) } }
            return try await group.reduce(into: [CLIResult]()) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.filter { $0.status != 0 })")
        let tokens = Set(results.map(\.stdout))
        #expect(tokens.count == 1)
        #expect(server.isAccessTokenValid(try #require(tokens.first).trimmingCharacters(in: .newlines)))
        #expect(server.stats.refreshGrants == 1)
        #expect(server.stats.tokenRequests == 1)
        #expect(server.stats.invalidGrant == 0)
        print(
            "single flight, 16 processes: \(results.count) callers -> \(server.stats.tokenRequests) token request(s), \(server.stats.invalidGrant) invalid_grant"
        )
        await finish()
    }

    @Test(
        "invalid_grant → exit 80, status reauth-required with the server's message; later calls do not contact the server"
    )
    func reauthRequired() async throws {
        try await addRefreshAccount("acme", refreshToken: "rt_never_issued")
        try await addRefreshAccount("other")
        let failed = try await cli.vaultRun(["token", "acme"])
        #expect(failed.status == 80)
        #expect(failed.stderr.contains("invalid_grant"))
        let shown = try await cli.reveal("acme")
        #expect(shown["status"] as? String == "reauth-required")
        #expect((shown["last_error"] as? String)?.contains("invalid_grant") == true)
        #expect(shown["refresh_token"] as? String == "rt_never_issued")

        let requests = server.stats.tokenRequests
        #expect(try await cli.vaultRun(["token", "acme"]).status == 80)
        #expect(try await cli.vaultRun(["refresh", "acme"]).status == 80)
        #expect(server.stats.tokenRequests == requests)
        let json = try await cli.vaultRun(["token", "acme", "--json"])
        #expect(json.jsonError?["code"] as? Int == 80)
        #expect(json.jsonError?["kind"] as? String == "reauth-required")
        // --force goes back to the server.
        #expect(try await cli.vaultRun(["refresh", "acme", "--force"]).status == 80)
        #expect(server.stats.tokenRequests == requests + 1)
        // Other accounts are unaffected.
        try await cli.succeed(["token", "other"])
        await finish()
    }

    @Test("invalid_client → exit 81, nothing deleted")
    func invalidClient() async throws {
        try await addRefreshAccount("acme", secret: "wrong-secret")
        let result = try await cli.vaultRun(["token", "acme"])
        #expect(result.status == 81)
        let shown = try await cli.reveal("acme")
        #expect(shown["status"] as? String == "ok")
        #expect(shown["refresh_token"] is String)
        await finish()
    }

    @Test("server faults → documented exit codes; the vault stays intact and usable")
    func faults() async throws {
        let rt = try await addRefreshAccount("acme")
        server.setPermanentFault(.internalServerError)
        #expect(try await cli.vaultRun(["token", "acme"]).status == 75)
        server.setPermanentFault(.tooManyRequests(retryAfter: 3600))
        #expect(try await cli.vaultRun(["token", "acme"]).status == 75)
        server.setPermanentFault(nil)
        server.injectFaults([.nonJSON200])
        #expect(try await cli.vaultRun(["token", "acme"]).status == 76)
        server.injectFaults([.oversizedBody(bytes: 2 << 20)])
        #expect(try await cli.vaultRun(["token", "acme"]).status == 76)
        #expect(try await cli.reveal("acme")["refresh_token"] as? String == rt)
        try await cli.succeed(["verify"])
        try await cli.succeed(["token", "acme"])

        let closed = try ResettingServer.start()
        let deadURL = closed.url
        closed.stop()
        try await cli.succeed(
            ["add", "gone", "--client-id", Self.clientID, "--client-secret-file", "-", "--token-url", deadURL],
            stdin: Data(Self.clientSecret.utf8)
        )
        let refused = try await cli.vaultRun(["token", "gone"])
        #expect(refused.status == 69)
        await finish()
    }

    @Test("refresh --all refreshes what is due; failures give their common exit code, or 1 when they differ")
    func refreshCommand() async throws {
        try await addRefreshAccount("a")
        try await addRefreshAccount("b")
        try await addRefreshAccount("fresh")
        try await cli.succeed(["token", "fresh"])
        try await cli.succeed(
            ["add", "legacy", "--mode", "basic", "--client-id", "pub", "--client-secret-file", "-"],
            stdin: Data("s".utf8)
        )
        server.resetStats()
        let all = try #require(try await cli.succeed(["refresh", "--all", "--json", "--rate", "20"]).jsonObject)
        #expect(Set(((all["refreshed"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }) == ["a", "b"])
        #expect(server.stats.refreshGrants == 2)
        let none = try await cli.succeed(["refresh", "--all"])
        #expect(none.stdout.contains("Refreshed 0"))
        try await cli.succeed(["refresh", "--all", "--ahead", "2h"])
        #expect(server.stats.refreshGrants == 5)

        try await addRefreshAccount("bad-grant", refreshToken: "rt_unknown")
        try await addRefreshAccount("bad-client", secret: "nope")
        #expect(try await cli.vaultRun(["refresh", "a", "bad-grant"]).status == 80)
        #expect(try await cli.vaultRun(["refresh", "a", "bad-client"]).status == 81)
        // Re-authorization comes first (80); without it, the other failures' code.
        #expect(try await cli.vaultRun(["refresh", "bad-grant", "bad-client", "--force"]).status == 80)
        #expect(
            try await cli.vaultRun(["refresh", "bad-grant", "bad-client", "--force", "--allow-reauth"]).status == 81
        )
        #expect(try await cli.vaultRun(["refresh", "missing", "bad-client"]).status == 1)
        #expect(try await cli.vaultRun(["refresh", "missing"]).status == 66)
        #expect(try await cli.vaultRun(["refresh"]).status == 64)
        #expect(try await cli.vaultRun(["refresh", "a", "--all"]).status == 64)
        await finish()
    }

    @Test("add --code exchanges the authorization code at once")
    func addWithCode() async throws {
        try await withHTTPClient { http in try await addWithCode(http) }
        await finish()
    }

    func addWithCode(_ http: HTTPClient) async throws {
        let redirect = "http://127.0.0.1:9/callback"
        let url =
            server.authorizeURL + "?response_type=code&client_id=\(Self.clientID)&redirect_uri=\(redirect)"
            + "&scope=api%20offline_access&state=state-0123456789&code_challenge=\(PKCEVector.challenge)&code_challenge_method=S256"
        let location = try await AuthorizeAnswer.redirectLocation(url, http: http)
        let code = try #require(URLComponents(string: location)?.queryItems?.first { $0.name == "code" }?.value)
        let verifier = try cli.writeFile("verifier", PKCEVector.verifier)
        try await cli.succeed(
            [
                "add", "acme", "--client-id", Self.clientID, "--client-secret-file", "-", "--code", code,
                "--redirect-uri", redirect, "--code-verifier-file", verifier, "--token-url", server.tokenURL,
            ],
            stdin: Data(Self.clientSecret.utf8)
        )
        #expect(server.stats.authorizationCodeGrants == 1)
        let shown = try await cli.reveal("acme")
        #expect(shown["mode"] as? String == "refresh-token")
        #expect(server.isRefreshTokenActive(try #require(shown["refresh_token"] as? String)))

        // A second add --code for the same name is refused before the (new) code is spent.
        let second = try await AuthorizeAnswer.redirectLocation(url, http: http)
        let code2 = try #require(URLComponents(string: second)?.queryItems?.first { $0.name == "code" }?.value)
        let again = try await cli.vaultRun(
            [
                "add", "acme", "--client-id", Self.clientID, "--client-secret-file", "-", "--code", code2,
                "--redirect-uri", redirect, "--code-verifier-file", verifier, "--token-url", server.tokenURL,
            ],
            stdin: Data(Self.clientSecret.utf8)
        )
        #expect(again.status == 73)
        #expect(server.stats.authorizationCodeGrants == 1)
        #expect(server.stats.tokenRequests == 1)
    }

    @Test(
        "login: browser flow through the loopback listener stores working tokens; a wrong state is ignored until the timeout, storing nothing"
    )
    func login() async throws {
        try await withHTTPClient { http in try await login(http) }
        await finish()
    }

    func login(_ http: HTTPClient) async throws {
        for wrongState in [false, true] {
            if wrongState { server.injectFaults([.wrongState]) }
            let login = try LoginProcess(
                cli: cli,
                arguments: [
                    "login", "acme", "--client-id", Self.clientID, "--client-secret-file", "-", "--no-browser",
                    "--token-url", server.tokenURL, "--timeout", wrongState ? "2s" : "30s", "--vault", cli.vault,
                ],
                env: cli.keyEnv.merging(["SENDCLOUD_AUTHORIZE_URL": server.authorizeURL]) { $1 },
                stdin: Self.clientSecret
            )
            let authorize = try await login.authorizeURL()
            #expect(authorize.hasPrefix(server.authorizeURL + "?"))
            let query = URLComponents(string: authorize)?.queryItems ?? []
            #expect(query.first { $0.name == "code_challenge_method" }?.value == "S256")
            #expect((query.first { $0.name == "code_challenge" }?.value?.count ?? 0) == 43)
            #expect(query.first { $0.name == "redirect_uri" }?.value?.hasPrefix("http://127.0.0.1:") == true)
            // The "browser": follow the authorize redirect to the CLI's loopback listener.
            let callback = try await AuthorizeAnswer.redirectLocation(authorize, http: http)
            let answer = try await http.execute(HTTPClientRequest(url: callback), timeout: .seconds(10))
            let status = await login.wait()
            if wrongState {
                #expect(answer.status == .badRequest)  // an error page: the callback is not for this login
                #expect(status == 1)
                #expect(login.stderr.contains("no redirect arrived"), "\(login.stderr)")
                #expect(server.stats.authorizationCodeGrants == 1)  // the first round's only: nothing was exchanged
                #expect(try await cli.vaultRun(["show", "acme"]).status == 66)
            } else {
                #expect(status == 0, "\(login.stderr)")
                let token = try await cli.succeed(["token", "acme"]).stdout.trimmingCharacters(in: .newlines)
                #expect(server.isAccessTokenValid(token))
                #expect(server.stats.authorizationCodeGrants == 1)
                try await cli.succeed(["refresh", "acme"])
                try await cli.succeed(["remove", "acme", "--yes"])
            }
        }
    }

    @Test("SIGKILL in the middle of refreshes, at random moments: the vault stays readable, the lock is released")
    func killedMidRefresh() async throws {
        try await addRefreshAccount("acme")
        var outcomes: [Int32: Int] = [:]
        for _ in 0..<20 {
            server.injectFaults([.slow(seconds: Double.random(in: 0...0.3))])
            let process = try cli.spawn(["token", "acme", "--vault", cli.vault], env: cli.keyEnv)
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...400)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            // Let a request the killed process left at the server finish there (the fake, unlike a server that
            // cancels work when the client goes away, still processes it), and drop an unconsumed fault.
            try await Task.sleep(for: .milliseconds(400))
            server.clearFaults()
            try await cli.succeed(["verify"])
            // The next call works, or the rotation was lost with the killed process: reauth-required (80).
            let next = try await cli.vaultRun(["token", "acme"])
            outcomes[next.status, default: 0] += 1
            #expect(next.status == 0 || next.status == 80, "\(next)")
            if next.status == 80 {
                try await cli.succeed(["remove", "acme", "--yes"])
                try await addRefreshAccount("acme")
            } else {
                // Store a token that is already within the skew, so that the next round refreshes again.
                server.setAccessTokenLifetime(seconds: 1)
                try await cli.succeed(["refresh", "acme"])
                server.setAccessTokenLifetime(seconds: 3600)
            }
        }
        print("SIGKILL rounds: next call exit codes \(outcomes.sorted { $0.key < $1.key })")
        await finish()
    }

    @Test(
        "SIGKILL after the server rotated the refresh token, before its answer arrived: the vault stays intact, the lock is released, the next call reports reauth-required (80)"
    )
    func killedAfterRotation() async throws {
        let rt = try await addRefreshAccount("acme")
        // The server processes the grant (the rotation is committed there), then holds the connection open.
        server.injectFaults([.dropAfterProcessing(delay: 60)])
        let process = try cli.spawn(["token", "acme", "--vault", cli.vault], env: cli.keyEnv)
        for _ in 0..<3000 where server.stats.refreshGrants == 0 { try await Task.sleep(for: .milliseconds(10)) }
        try #require(server.stats.refreshGrants == 1, "the refresh never reached the server")
        #expect(!server.isRefreshTokenActive(rt))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)

        try await cli.succeed(["verify"])
        #expect(try await cli.reveal("acme")["refresh_token"] as? String == rt)
        // The next call takes the lock the killed process held and presents the rotated-away token.
        let next = try await cli.vaultRun(["token", "acme"])
        expectFailure(next, 80)
        #expect(server.stats.invalidGrant == 1)
        let shown = try await cli.reveal("acme")
        #expect(shown["status"] as? String == "reauth-required")
        #expect(shown["refresh_token"] as? String == rt)
        try await cli.succeed(["verify"])
        await finish()
    }

    @Test("the server rotated the refresh token and dropped the connection: the retry gets invalid_grant → exit 80")
    func lostRotation() async throws {
        let rt = try await addRefreshAccount("acme")
        server.injectFaults([.dropAfterProcessing()])
        let result = try await cli.vaultRun(["token", "acme"])
        expectFailure(result, 80)
        #expect(server.stats.refreshGrants == 1)
        #expect(server.stats.invalidGrant == 1)
        try await cli.succeed(["verify"])
        let shown = try await cli.reveal("acme")
        #expect(shown["status"] as? String == "reauth-required")
        #expect(shown["refresh_token"] as? String == rt)
        await finish()
    }
}

/// A `login` process whose stderr is watched for the authorize URL.
final class LoginProcess: Sendable {
    let process: ChildProcess
    let errPath: String

    init(cli: CLIHarness, arguments: [String], env: [String: String], stdin: String) throws {
        errPath = cli.root + "/login-\(UUID().uuidString).err"
        guard FileManager.default.createFile(atPath: errPath, contents: nil) else {
            throw HarnessError(description: "cannot create \(errPath)")
        }
        process = try cli.spawn(arguments, env: env, stdin: stdin, stderrPath: errPath)
    }

    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    func authorizeURL() async throws -> String {
        for _ in 0..<500 {
            if let line = stderr.split(separator: "\n").first(where: { $0.hasPrefix("http") }) { return String(line) }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw HarnessError(description: "login printed no URL:\n\(stderr)")
    }

    func wait() async -> Int32 {
        while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        return process.terminationStatus
    }
}

extension CLIHarness {
    /// Starts the binary without waiting (for kill and login tests). Clean environment as in ``run(_:env:stdin:sourceLocation:)``.
    func spawn(
        _ arguments: [String],
        env: [String: String],
        stdin: String = "",
        stderrPath: String? = nil
    ) throws -> ChildProcess {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": root]
            .merging(env) { $1 }
        let input = Pipe()
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError =
            try stderrPath.map { try FileHandle(forWritingTo: URL(fileURLWithPath: $0)) } ?? FileHandle.nullDevice
        try process.run()
        return process
    }
}
