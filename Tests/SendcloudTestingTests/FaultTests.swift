import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SendcloudTesting
import TestSupport
import Testing

@Suite("Faults")
struct FaultTests {
    static let answeringFaults: [FakeSendcloud.Fault] = [
        .internalServerError,
        .badGatewayHTML,
        .tooManyRequests(retryAfter: 7),
        .nonJSON200,
        .missingAccessToken200,
        .oversizedBody(bytes: 2 << 20),
        .json200(#"{"access_token":"a\r\nX: 1","expires_in":1e300}"#),
        .oauthError(status: 400, error: "invalid_scope", description: "The scope is not allowed.", hint: "Ask less."),
    ]

    /// Checks that the reply is the documented one for the fault.
    static func expectDocumented(_ fault: FakeSendcloud.Fault, _ reply: Reply) {
        switch fault {
        case .internalServerError:
            #expect(reply.status == 500)
            #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true)
            #expect(reply.string("error") == "server_error")
            #expect(reply.string("error_description")?.isEmpty == false)
            #expect(reply.int("status_code") == 500)
        case .badGatewayHTML:
            #expect(reply.status == 502)
            #expect(reply.header("Content-Type") == "text/html")
            #expect(reply.body.contains("<html>"))
        case .tooManyRequests(let retryAfter):
            #expect(reply.status == 429)
            #expect(reply.header("Retry-After") == String(retryAfter))
            #expect(reply.string("error") != nil)
            #expect(reply.int("status_code") == 429)
        case .oauthError(let status, let error, let description, let hint):
            #expect(reply.status == status)
            #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true)
            #expect(reply.string("error") == error)
            #expect(reply.string("error_description") == description)
            #expect(reply.string("error_hint") == hint)
            #expect(reply.int("status_code") == status)
        case .nonJSON200:
            #expect(reply.status == 200)
            #expect(reply.header("Content-Type") == "text/html")
            #expect(reply.body == "<html>ok</html>")
        case .missingAccessToken200:
            #expect(reply.status == 200)
            #expect(reply.json["access_token"] == nil)
            #expect(reply.string("token_type") == "bearer")
            #expect(reply.int("expires_in") == 3600)
        case .oversizedBody(let bytes):
            #expect(reply.status == 200)
            #expect(reply.body.utf8.count == bytes)
            #expect(reply.body.hasPrefix(#"{"access_token":""#))
        case .json200(let text):
            #expect(reply.status == 200)
            #expect(reply.header("Content-Type")?.hasPrefix("application/json") == true)
            #expect(reply.body == text)
        case .slow, .reset, .dropAfterProcessing, .wrongState:
            Issue.record("not an answering fault")
        }
    }

    @Test(arguments: answeringFaults)
    func faultIsServedOnceAndConsumesNothing(_ fault: FakeSendcloud.Fault) async throws {
        try await withServerAndClient { server, client in
            let token = server.issueRefreshToken(clientID: TestClient.clientID)
            server.injectFaults([fault])
            let faulted = try await client.token(server, [("grant_type", "refresh_token"), ("refresh_token", token)])
            Self.expectDocumented(fault, faulted)
            // The faulted request did not use the refresh token.
            #expect(server.isRefreshTokenActive(token))
            #expect(server.pendingFaults.isEmpty)

            let normal = try await client.token(server, [("grant_type", "refresh_token"), ("refresh_token", token)])
            #expect(normal.status == 200)
            #expect(normal.string("refresh_token") != nil)
            #expect(server.stats.faultsServed == 1)
            #expect(server.stats.tokenRequests == 2)
            #expect(server.stats.refreshGrants == 1)
        }
    }

    @Test func queuedFaultsAreServedInOrder() async throws {
        try await withServerAndClient { server, client in
            server.injectFaults([.tooManyRequests(retryAfter: 1), .internalServerError, .nonJSON200])
            var statuses: [Int] = []
            for _ in 0..<4 {
                statuses.append(try await client.token(server, [("grant_type", "client_credentials")]).status)
            }
            #expect(statuses == [429, 500, 200, 200])
            #expect(server.stats.faultsServed == 3)
            #expect(server.stats.clientCredentialsGrants == 1)
        }
    }

    @Test func permanentFaultAppliesUntilCleared() async throws {
        try await withServerAndClient { server, client in
            server.setPermanentFault(.badGatewayHTML)
            for _ in 0..<3 {
                let reply = try await client.token(server, [("grant_type", "client_credentials")])
                #expect(reply.status == 502)
            }
            server.setPermanentFault(nil)
            let reply = try await client.token(server, [("grant_type", "client_credentials")])
            #expect(reply.status == 200)
            #expect(server.stats.faultsServed == 3)
            #expect(server.stats.tokenRequests == 4)
        }
    }

    @Test func slowFaultDelaysThenAnswers() async throws {
        try await withServerAndClient { server, client in
            let token = server.issueRefreshToken(clientID: TestClient.clientID)
            server.injectFaults([.slow(seconds: 0.3)])
            let clock = ContinuousClock()
            let start = clock.now
            let reply = try await client.token(server, [("grant_type", "refresh_token"), ("refresh_token", token)])
            #expect(clock.now - start >= .milliseconds(300))
            #expect(reply.status == 200)
            #expect(!server.isRefreshTokenActive(token))

            // The fault was consumed: the next request is answered without one (no upper time bound is asserted:
            // tests here never assert speed).
            _ = try await client.token(server, [("grant_type", "client_credentials")])
            #expect(server.stats.faultsServed == 1)
        }
    }

    @Test func slowFaultTimesOutAClient() async throws {
        try await withServerAndClient { server, client in
            server.injectFaults([.slow(seconds: 5)])
            var request = HTTPClientRequest(url: server.tokenURL)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(.init(string: "grant_type=client_credentials"))
            await #expect(throws: (any Error).self) {
                _ = try await client.http.execute(request, timeout: .milliseconds(200))
            }
            // stop() (run by withServerAndClient) does not wait for the remaining seconds of the slow fault.
        }
    }

    @Test func stopDoesNotWaitForASlowFault() async throws {
        let server = try await FakeSendcloud.start()
        server.registerClient(id: TestClient.clientID, secret: TestClient.clientSecret)
        server.injectFaults([.slow(seconds: 20)])
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let request = Task { try await TestClient(http: http).token(server, [("grant_type", "client_credentials")]) }
        while server.stats.tokenRequests == 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        // stop() returns without serving out the 20 s delay (otherwise this test would take 20 s; not asserted).
        await server.stop()
        _ = await request.result
        try await http.shutdown()
    }
}

@Suite("Connection faults, chained faults, and what the server measures")
struct ConnectionFaultTests {
    static func refresh(_ token: String) -> [(String, String)] {
        [("grant_type", "refresh_token"), ("refresh_token", token)]
    }

    @Test("reset: the connection is reset without an answer, and the refresh token is not spent")
    func reset() async throws {
        try await withServerAndClient { server, client in
            let token = server.issueRefreshToken(clientID: TestClient.clientID)
            server.injectFaults([.reset])
            let error = await #expect(throws: (any Error).self) {
                _ = try await client.token(server, Self.refresh(token))
            }
            #expect(String(describing: error).lowercased().contains("reset"), "\(String(describing: error))")
            #expect(server.isRefreshTokenActive(token))
            #expect(server.stats.refreshGrants == 0)
            #expect(server.stats.faultsServed == 1)
            let again = try await client.token(server, Self.refresh(token))
            #expect(again.status == 200)
        }
    }

    @Test("dropAfterProcessing: the grant is processed and committed, then the connection closes without an answer")
    func dropAfterProcessing() async throws {
        try await withServerAndClient { server, client in
            let token = server.issueRefreshToken(clientID: TestClient.clientID)
            server.injectFaults([.dropAfterProcessing()])
            await #expect(throws: (any Error).self) {
                _ = try await client.token(server, Self.refresh(token))
            }
            // The rotation happened at the server: the token the client still holds was rotated away.
            #expect(server.stats.refreshGrants == 1)
            #expect(!server.isRefreshTokenActive(token))
            // Presenting it again is reuse: invalid_grant (and the chain is revoked).
            let reuse = try await client.token(server, Self.refresh(token))
            #expect(reuse.status == 400)
            #expect(reuse.string("error") == "invalid_grant")
            #expect(server.stats.invalidGrant == 1)
        }
    }

    @Test("dropAfterProcessing with a delay holds the processed request before dropping it")
    func dropAfterProcessingDelayed() async throws {
        try await withServerAndClient { server, client in
            let token = server.issueRefreshToken(clientID: TestClient.clientID)
            server.injectFaults([.dropAfterProcessing(delay: 30)])
            let request = Task { try await client.token(server, Self.refresh(token)) }
            // Processed (and committed) while the connection is still open.
            while server.stats.refreshGrants == 0 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(!server.isRefreshTokenActive(token))
            // stop() ends the hold early; the client then sees the connection close without an answer.
            await server.stop()
            await #expect(throws: (any Error).self) { _ = try await request.value }
        }
    }

    @Test("faults chain on one endpoint: 500, then a reset, then success; each consumed by one request")
    func chainedFaults() async throws {
        try await withServerAndClient { server, client in
            let token = server.issueRefreshToken(clientID: TestClient.clientID)
            server.injectFaults([.internalServerError])
            server.injectFaults([.reset])  // appended behind the 500
            #expect(server.pendingFaults == [.internalServerError, .reset])
            #expect(try await client.token(server, Self.refresh(token)).status == 500)
            #expect(server.pendingFaults == [.reset])
            await #expect(throws: (any Error).self) { _ = try await client.token(server, Self.refresh(token)) }
            #expect(server.pendingFaults.isEmpty)
            let success = try await client.token(server, Self.refresh(token))
            #expect(success.status == 200)
            #expect(server.stats.tokenRequests == 3)
            #expect(server.stats.faultsServed == 2)
            #expect(server.stats.refreshGrants == 1)
        }
    }

    @Test("clearFaults drops the queued faults")
    func clearFaults() async throws {
        try await withServerAndClient { server, client in
            server.injectFaults([.internalServerError, .reset])
            server.clearFaults()
            #expect(server.pendingFaults.isEmpty)
            let reply = try await client.token(server, [("grant_type", "client_credentials")])
            #expect(reply.status == 200)
            #expect(server.stats.faultsServed == 0)
        }
    }

    @Test("the server counts the token requests in flight at once and records when each arrived")
    func concurrencyAndArrivals() async throws {
        try await withServerAndClient { server, client in
            for _ in 0..<3 {
                _ = try await client.token(server, [("grant_type", "client_credentials")])
            }
            #expect(server.stats.maxConcurrentTokenRequests == 1)
            #expect(server.tokenRequestArrivals.count == 3)
            #expect(server.tokenRequestArrivals == server.tokenRequestArrivals.sorted())

            server.resetStats()
            #expect(server.stats.maxConcurrentTokenRequests == 0)
            #expect(server.tokenRequestArrivals.isEmpty)
            // Three requests held at the server together: once all three have arrived, all three are in flight.
            server.setPermanentFault(.slow(seconds: 30))
            let requests = (0..<3).map { _ in
                Task { try await client.token(server, [("grant_type", "client_credentials")]) }
            }
            while server.stats.tokenRequests < 3 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.stats.maxConcurrentTokenRequests == 3)
            #expect(server.tokenRequestArrivals.count == 3)
            // releaseHeldRequests() ends the holds: every held request is answered.
            server.setPermanentFault(nil)
            server.releaseHeldRequests()
            for request in requests {
                let reply = try await request.value
                #expect(reply.status == 200)
            }
            #expect(server.stats.clientCredentialsGrants == 3)
        }
    }
}

@Suite("ResettingServer")
struct ResettingServerTests {
    @Test func requestFailsWithAConnectionError() async throws {
        let server = try ResettingServer.start()
        defer { server.stop() }
        #expect(server.port > 0)
        #expect(server.url == "http://127.0.0.1:\(server.port)/oauth2/token")
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        for _ in 0..<3 {
            let error = await #expect(throws: (any Error).self) {
                _ = try await TestClient(http: http).post(server.url, body: "grant_type=client_credentials")
            }
            // A reset, not a timeout after AsyncHTTPClient retried connecting.
            #expect(String(describing: error).lowercased().contains("reset"))
        }
        try await http.shutdown()
        server.stop()
        server.stop()
    }
}
