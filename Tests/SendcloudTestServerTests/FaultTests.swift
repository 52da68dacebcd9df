import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SendcloudTestServer
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
        case .slow, .wrongState:
            Issue.record("not an answering fault")
        }
    }

    @Test(arguments: answeringFaults)
    func faultIsServedOnceAndConsumesNothing(_ fault: FakeSendcloud.Fault) async throws {
        try await withFakeSendcloud { server, client in
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
        try await withFakeSendcloud { server, client in
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
        try await withFakeSendcloud { server, client in
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
        try await withFakeSendcloud { server, client in
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
        try await withFakeSendcloud { server, client in
            server.injectFaults([.slow(seconds: 5)])
            var request = HTTPClientRequest(url: server.tokenURL)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(.init(string: "grant_type=client_credentials"))
            await #expect(throws: (any Error).self) {
                _ = try await client.http.execute(request, timeout: .milliseconds(200))
            }
            // stop() (run by withFakeSendcloud) does not wait for the remaining seconds of the slow fault.
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
