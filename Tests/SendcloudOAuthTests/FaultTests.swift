import AsyncHTTPClient
import CredentialVault
import Foundation
import NIOCore
import NIOHTTP1
import SendcloudTesting
import Synchronization
import TestSupport
import Testing

@testable import SendcloudOAuth

#if canImport(Glibc)
import Glibc
#endif

@Suite("Server faults end in the documented outcome and leave the vault usable")
struct FaultTests {
    /// Runs `body`, then checks that the account still has its original secrets and works once faults stop.
    func expectIntactAfterwards(_ h: Harness, _ name: AccountName, refreshToken: String) async throws {
        h.server.setPermanentFault(nil)
        let secrets = try await h.vault.openAccount(named: name).secrets
        #expect(secrets.refreshToken?.string == refreshToken)
        #expect(try await h.vault.verify().isSound)
        _ = try await h.provider.accessToken(for: name)
        #expect(try await h.vault.account(named: name).status == .ok)
    }

    @Test("500 until the attempts run out → serverError after 4 attempts")
    func internalServerError() async throws {
        try await withHarness { h in
            let rt = try await h.addRefreshAccount("acme")
            h.server.setPermanentFault(.internalServerError)
            let error = await expectOAuthError(.serverError) { try await h.provider.accessToken(for: "acme") }
            #expect(error?.httpStatus == 500)
            #expect(h.server.stats.tokenRequests == 4)
            #expect(try await h.vault.account(named: "acme").lastError?.contains("500") == true)
            try await expectIntactAfterwards(h, "acme", refreshToken: rt)
        }
    }

    @Test("502 with an HTML body → serverError whose message does not quote the body")
    func badGatewayHTML() async throws {
        try await withHarness { h in
            let rt = try await h.addRefreshAccount("acme")
            h.server.setPermanentFault(.badGatewayHTML)
            let error = await expectOAuthError(.serverError) { try await h.provider.accessToken(for: "acme") }
            #expect(error?.message.contains("<") == false)
            try await expectIntactAfterwards(h, "acme", refreshToken: rt)
        }
    }

    @Test("one 500 then success: retried transparently")
    func transientFailure() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme")
            h.server.injectFaults([.internalServerError, .badGatewayHTML])
            _ = try await h.provider.accessToken(for: "acme")
            #expect(h.server.stats.tokenRequests == 3)
            #expect(h.server.stats.refreshGrants == 1)
        }
    }

    @Test(
        "429 with Retry-After is honoured (the retry arrives no earlier than asked) and retried; a Retry-After beyond the cap ends the retries"
    )
    func rateLimited() async throws {
        try await withHarness { h in
            let rt = try await h.addRefreshAccount("acme")
            h.server.injectFaults([.tooManyRequests(retryAfter: 1)])
            _ = try await h.provider.accessToken(for: "acme")
            #expect(h.server.stats.tokenRequests == 2)
            // Measured by the server: the retry arrived at least Retry-After after the request that got the 429 (a
            // lower bound only; the 429 was sent after the first arrival, so this can only understate the wait).
            let arrivals = h.server.tokenRequestArrivals
            try #require(arrivals.count == 2)
            #expect(arrivals[1] - arrivals[0] >= .seconds(1), "retry after \(arrivals[1] - arrivals[0])")
            _ = rt

            try await h.addRefreshAccount("bolt")
            h.server.resetStats()
            h.server.setPermanentFault(.tooManyRequests(retryAfter: 3600))
            let error = await expectOAuthError(.rateLimited) { try await h.provider.accessToken(for: "bolt") }
            #expect(error?.httpStatus == 429)
            #expect(h.server.stats.tokenRequests == 1)
            h.server.setPermanentFault(nil)
            _ = try await h.provider.accessToken(for: "bolt")
        }
    }

    @Test("500, then a reset connection, then success on one endpoint: retried through both, the token spent once")
    func chainedFaults() async throws {
        try await withHarness { h in
            let rt = try await h.addRefreshAccount("acme")
            h.server.injectFaults([.internalServerError, .reset])
            _ = try await h.provider.accessToken(for: "acme")
            #expect(h.server.stats.tokenRequests == 3)
            #expect(h.server.stats.faultsServed == 2)
            #expect(h.server.stats.refreshGrants == 1)
            #expect(h.server.stats.invalidGrant == 0)
            let stored = try #require(try await h.vault.openAccount(named: "acme").secrets.refreshToken?.string)
            #expect(stored != rt)
            #expect(h.server.isRefreshTokenActive(stored))
            #expect(try await h.vault.verify().isSound)
        }
    }

    @Test(
        "the server rotates the refresh token but its answer is lost: the next refresh reports reauth-required (invalid_grant), the vault stays intact"
    )
    func lostRotation() async throws {
        try await withHarness { h in
            let rt = try await h.addRefreshAccount("acme")
            // One attempt, so that the lost answer surfaces as such (with retries, the retry itself is the next
            // refresh: see lostRotationRetried).
            var once = h.clientConfiguration
            once.maxAttempts = 1
            let provider = TokenProvider(
                vault: h.vault,
                client: TokenEndpointClient(httpClient: h.http, configuration: once, logger: h.logger),
                logger: h.logger
            )
            h.server.injectFaults([.dropAfterProcessing()])
            await expectOAuthError(.unreachable) { try await provider.accessToken(for: "acme") }
            // The server rotated (and spent) the token the vault holds; the vault still holds it, unharmed.
            #expect(h.server.stats.refreshGrants == 1)
            #expect(!h.server.isRefreshTokenActive(rt))
            #expect(try await h.vault.verify().isSound)
            #expect(try await h.vault.openAccount(named: "acme").secrets.refreshToken?.string == rt)

            let error = await expectOAuthError(.reauthorizationRequired) { try await provider.accessToken(for: "acme") }
            #expect(error?.oauthError == "invalid_grant")
            #expect(h.server.stats.invalidGrant == 1)
            #expect(h.server.stats.tokenRequests == 2)
            let (account, secrets) = try await h.vault.openAccount(named: "acme")
            #expect(account.status == .reauthRequired)
            #expect(secrets.refreshToken?.string == rt)
            #expect(secrets.clientSecret?.string == Harness.clientSecret)
            #expect(try await h.vault.verify().isSound)
        }
    }

    @Test("a lost rotation with retries on: the retry gets invalid_grant → reauth-required at once, vault intact")
    func lostRotationRetried() async throws {
        try await withHarness { h in
            let rt = try await h.addRefreshAccount("acme")
            h.server.injectFaults([.dropAfterProcessing()])
            let error = await expectOAuthError(.reauthorizationRequired) {
                try await h.provider.accessToken(for: "acme")
            }
            #expect(error?.oauthError == "invalid_grant")
            #expect(h.server.stats.refreshGrants == 1)
            #expect(h.server.stats.invalidGrant == 1)
            let (account, secrets) = try await h.vault.openAccount(named: "acme")
            #expect(account.status == .reauthRequired)
            #expect(secrets.refreshToken?.string == rt)
            #expect(try await h.vault.verify().isSound)
        }
    }

    @Test(
        "unusable 2xx bodies → invalidResponse at once, not retried",
        arguments: [FakeSendcloud.Fault.nonJSON200, .missingAccessToken200, .oversizedBody(bytes: 2 << 20)]
    )
    func unusableSuccess(fault: FakeSendcloud.Fault) async throws {
        try await withHarness { h in
            let rt = try await h.addRefreshAccount("acme")
            h.server.injectFaults([fault])
            await expectOAuthError(.invalidResponse) { try await h.provider.accessToken(for: "acme") }
            #expect(h.server.stats.tokenRequests == 1)
            try await expectIntactAfterwards(h, "acme", refreshToken: rt)
        }
    }

    @Test("a response slower than the request timeout → unreachable after the attempts, vault unchanged")
    func slow() async throws {
        // A client-credentials account: a refresh token sent in a request that timed out may still be used by a
        // server that goes on processing it, which no client can tell (see SECURITY.md).
        try await withHarness { h in
            try await h.addClientCredentialsAccount("acme")
            h.server.setPermanentFault(.slow(seconds: 3))
            var impatient = h.clientConfiguration
            impatient.requestTimeout = .milliseconds(500)
            let provider = TokenProvider(
                vault: h.vault,
                client: TokenEndpointClient(httpClient: h.http, configuration: impatient, logger: h.logger),
                logger: h.logger
            )
            await expectOAuthError(.unreachable) { try await provider.accessToken(for: "acme") }
            #expect(h.server.stats.tokenRequests >= 2)
            h.server.setPermanentFault(nil)
            #expect(try await h.vault.verify().isSound)
            #expect(try await h.vault.openAccount(named: "acme").secrets.clientSecret?.string == Harness.clientSecret)
            _ = try await h.provider.accessToken(for: "acme")
        }
    }

    @Test("a reset connection and a refused connection → unreachable")
    func resetAndRefused() async throws {
        try await withHarness { h in
            let resetting = try ResettingServer.start()
            defer { resetting.stop() }
            try await h.addRefreshAccount("reset", tokenURL: resetting.url)
            await expectOAuthError(.unreachable) { try await h.provider.accessToken(for: "reset") }
            // A port that was just free: nothing listens there.
            let closed = try ResettingServer.start()
            let url = closed.url
            closed.stop()
            try await h.addRefreshAccount("refused", tokenURL: url)
            await expectOAuthError(.unreachable) { try await h.provider.accessToken(for: "refused") }
            #expect(try await h.vault.verify().isSound)
        }
    }

    @Test("a plain-http token URL to a non-loopback host is refused before any connection")
    func insecureURL() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme", tokenURL: "http://203.0.113.7/oauth2/token")
            await expectOAuthError(.insecureTokenURL) { try await h.provider.accessToken(for: "acme") }
            #expect(h.server.stats.tokenRequests == 0)
        }
    }
}

@Suite("Token URL policy, form encoding, PKCE")
struct PolicyTests {
    @Test(
        "https anywhere; http only to loopback",
        arguments: [
            ("https://account.sendcloud.com/oauth2/token", true), ("http://127.0.0.1:8080/t", true),
            ("http://127.1.2.3/t", true), ("http://localhost:1/t", true), ("http://[::1]:9/t", true),
            ("http://example.com/t", false), ("http://127.0.0.1.example.com/t", false), ("http://10.0.0.1/t", false),
            ("ftp://127.0.0.1/t", false), ("/relative", false), ("https://", false),
        ]
    )
    func tokenURLPolicy(url: String, allowed: Bool) {
        #expect(((try? TokenURLPolicy.validate(url)) != nil) == allowed)
    }

    @Test("HTTP Basic client authentication matches RFC 6749 §2.3.1's example")
    func basicAuth() {
        #expect(
            FormEncoding.basicAuthorization(
                clientID: "s6BhdRkqt3",
                clientSecret: SecureBytes(utf8: "7Fjfp0ZBr1KtDRbnfVdmIw")
            )
                == "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3"
        )
    }

    @Test("form bodies are x-www-form-urlencoded")
    func formBody() {
        let body = TokenEndpointClient.formBody(for: .refreshToken(SecureBytes(utf8: "a b+c/d=é"), scope: nil))
        #expect(body.string == "grant_type=refresh_token&refresh_token=a+b%2Bc%2Fd%3D%C3%A9")
    }

    @Test("PKCE S256 matches RFC 7636 Appendix B")
    func pkce() {
        let challenge = Array(PKCEVector.verifier.utf8).withUnsafeBytes {
            AuthorizationSession.base64URL(bytes: Sodium.sha256($0))
        }
        #expect(challenge == PKCEVector.challenge)
    }

    @Test("Retry-After as seconds or HTTP date")
    func retryAfter() {
        #expect(TokenEndpointClient.retryAfter(["Retry-After": "7"]) == .seconds(7))
        #expect(TokenEndpointClient.retryAfter(["Retry-After": "soon"]) == nil)
        let date = Date().addingTimeInterval(30)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let parsed = TokenEndpointClient.retryAfter(["Retry-After": formatter.string(from: date)])
        #expect(parsed != nil && parsed! > .seconds(20) && parsed! <= .seconds(31))
    }

    @Test("the loopback receiver ignores other paths, methods, long targets and foreign states; returns the callback")
    func loopbackReceiver() async throws {
        let receiver = try await LoopbackRedirectReceiver()
        #expect(receiver.port > 0)
        receiver.expect(state: "xyz")
        let parameters = Task { try await receiver.waitForCallback(timeout: .seconds(120)) }
        // The client and the receiver are closed whatever happens (a client dropped while running stops the whole test
        // process).
        try await withClosing(
            receiver,
            close: { await $0.close() },
            { receiver in
                try await withHTTPClient { http in
                    func status(_ path: String, method: HTTPMethod = .GET) async throws -> HTTPResponseStatus {
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(receiver.port)" + path)
                        request.method = method
                        return try await http.execute(request, timeout: .seconds(5)).status
                    }
                    #expect(try await status("/favicon.ico") == .notFound)
                    #expect(try await status("/callback?code=abc&state=xyz", method: .POST) == .methodNotAllowed)
                    #expect(
                        try await status("/callback?state=xyz&code=" + String(repeating: "a", count: 9000))
                            == .uriTooLong
                    )
                    // A stranger's callbacks (no state, another state, an error without the state) are refused and ignored.
                    #expect(try await status("/callback?error=access_denied") == .badRequest)
                    #expect(try await status("/callback?code=evil&state=xyw") == .badRequest)
                    #expect(try await status("/callback?code=evil") == .badRequest)
                    #expect(try await status("/callback?code=abc%2B1&state=xyz") == .ok)
                    let received = try await parameters.value
                    #expect(received["code"] == "abc+1")
                    #expect(received["state"] == "xyz")
                }
            }
        )
    }

    @Test("an error redirect with the right state ends the wait and reports the refusal")
    func loopbackError() async throws {
        let receiver = try await LoopbackRedirectReceiver()
        let session = AuthorizationSession(redirectURI: receiver.redirectURI)
        receiver.expect(state: session.state)
        let parameters = Task { try await receiver.waitForCallback(timeout: .seconds(120)) }
        try await withClosing(
            receiver,
            close: { await $0.close() },
            { receiver in
                try await withHTTPClient { http in
                    let answer = try await http.execute(
                        .init(url: receiver.redirectURI + "?error=access_denied&state=" + session.state),
                        timeout: .seconds(5)
                    )
                    #expect(answer.status == .badRequest)
                    let received = try await parameters.value
                    let error = #expect(throws: OAuthError.self) { try session.code(from: received) }
                    #expect(error?.message.contains("access_denied") == true)
                }
            }
        )
    }

    @Test("a client trickling one byte at a time cannot keep the wait past its timeout")
    func loopbackTrickle() async throws {
        let receiver = try await LoopbackRedirectReceiver()
        receiver.expect(state: "s")
        let port = receiver.port
        let stop = Mutex(false)
        let trickler = Task.detached {
            // A raw socket: one byte every 300 ms, for as long as the test lets it.
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port)).bigEndian
            address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            var sent = 0
            for byte in Array("GET /callback?state=s&code=".utf8) + Array(repeating: UInt8(ascii: "a"), count: 200) {
                if stop.withLock({ $0 }) { break }
                var b = byte
                if send(fd, &b, 1, Int32(MSG_NOSIGNAL)) != 1 { break }
                sent += 1
                try? await Task.sleep(for: .milliseconds(300))
            }
            close(fd)
            return sent
        }
        let error = await #expect(throws: OAuthError.self) { try await receiver.waitForCallback(timeout: .seconds(1)) }
        #expect(error?.message.contains("timeout") == true)
        // The wait ended while the trickler was still sending (it would need a minute for its 227 bytes).
        stop.withLock { $0 = true }
        let sent = await trickler.value
        #expect(sent < 227)
        await receiver.close()
    }
}

@Suite("Token response parsing")
struct ResponseParsingTests {
    func parse(_ json: String) throws -> TokenResponse {
        try TokenResponseParser.parseSuccess(ByteBuffer(string: json), receivedAt: Date(timeIntervalSince1970: 1000))
    }

    @Test("expires_in: absent → one hour; huge (even 1e300) → 7 days; fractional → whole seconds; as a string too")
    func lifetimes() throws {
        #expect(try parse(#"{"access_token":"a"}"#).expiresIn == 3600)
        #expect(try parse(#"{"access_token":"a","expires_in":null}"#).expiresIn == 3600)
        #expect(try parse(#"{"access_token":"a","expires_in":0}"#).expiresIn == 0)
        #expect(try parse(#"{"access_token":"a","expires_in":99999999999}"#).expiresIn == 7 * 86400)
        #expect(try parse(#"{"access_token":"a","expires_in":1e300}"#).expiresIn == 7 * 86400)
        #expect(try parse(#"{"access_token":"a","expires_in":99999999999999999999999}"#).expiresIn == 7 * 86400)
        #expect(try parse(#"{"access_token":"a","expires_in":3599.9}"#).expiresIn == 3599)
        #expect(try parse(#"{"access_token":"a","expires_in":"1e300"}"#).expiresIn == 7 * 86400)
        #expect(try parse(#"{"access_token":"a","expires_in":"120"}"#).expiresIn == 120)
        #expect(try parse(#"{"access_token":"a","expires_in":60}"#).expiresAt == Date(timeIntervalSince1970: 1060))
    }

    @Test(
        "negative, non-finite or non-numeric expires_in makes the answer unusable (76)",
        arguments: [
            "-5", "-1e300", "true", "false", #""soon""#, #""""#, "[]", "{}", #""-1""#, #""NaN""#, #""inf""#,
            #""Infinity""#, #""0x10""#,
        ]
    )
    func unusableLifetimes(value: String) throws {
        let error = #expect(throws: OAuthError.self) {
            try parse(#"{"access_token":"a","expires_in":"# + value + "}")
        }
        #expect(error?.code == .invalidResponse)
    }

    @Test(
        "tokens must be RFC 6750 b64token characters; a scope must be RFC 6749 scope tokens",
        arguments: [
            #"{"access_token":"a\r\nX-Injected: 1"}"#, #"{"access_token":"a b"}"#, #"{"access_token":"=abc"}"#,
            #"{"access_token":"ab=c"}"#, #"{"access_token":"a\u001b[2J"}"#, #"{"access_token":"t\u00f6k"}"#,
            #"{"access_token":"ok","refresh_token":"r\nt"}"#, #"{"access_token":"ok","refresh_token":5}"#,
            #"{"access_token":"ok","scope":"api\u001b]0;pwned\u0007"}"#, #"{"access_token":"ok","scope":"a  b"}"#,
            #"{"access_token":"ok","scope":"a\"b"}"#, #"{"access_token":"ok","scope":7}"#,
        ]
    )
    func unusableTokenText(body: String) throws {
        let error = #expect(throws: OAuthError.self) { try parse(body) }
        #expect(error?.code == .invalidResponse)
    }

    @Test("valid b64tokens and scopes are taken as they are")
    func validTokenText() throws {
        let response = try parse(
            #"{"access_token":"ory_at_A-z0.9_~+/==","refresh_token":"ory_rt_x.y","scope":"api offline_access"}"#
        )
        #expect(response.accessToken.string == "ory_at_A-z0.9_~+/==")
        #expect(response.refreshToken?.string == "ory_rt_x.y")
        #expect(response.scope == "api offline_access")
    }

    @Test("unusable bodies are invalidResponse; error texts are sanitised")
    func unusable() throws {
        for body in ["[]", "null", #"{"access_token":""}"#, #"{"access_token":5}"#, "<html>"] {
            #expect(throws: OAuthError.self) { try parse(body) }
        }
        let error = TokenResponseParser.parseError(
            ByteBuffer(string: #"{"error":"invalid_grant","error_description":"bad\u001b[31m red"}"#),
            status: 400
        )
        #expect(error.description == "bad[31m red")
        #expect(error.oauthError.code == .reauthorizationRequired)
        #expect(TokenResponseParser.sanitized(String(repeating: "x", count: 500)).count == 301)
    }
}
