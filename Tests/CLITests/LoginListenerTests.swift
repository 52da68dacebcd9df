import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SendcloudTesting
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Any local process can reach `login`'s loopback listener: it must neither abort nor stall a login.
@Suite("login's listener against strangers, end to end")
struct LoginListenerTests {
    static let clientID = "login-client"
    static let clientSecret = "login-secret-VALUE-5"

    let cli: CLIHarness
    let server: FakeSendcloud

    init() async throws {
        cli = try CLIHarness()
        server = try await FakeSendcloud.start(registering: [Self.clientID: Self.clientSecret])
        try await cli.initVault()
    }

    func startLogin(timeout: String) throws -> LoginProcess {
        try LoginProcess(
            cli: cli,
            arguments: [
                "login", "acme", "--client-id", Self.clientID, "--client-secret-file", "-", "--no-browser",
                "--token-url", server.tokenURL, "--timeout", timeout, "--vault", cli.vault,
            ],
            env: cli.keyEnv.merging(["SENDCLOUD_AUTHORIZE_URL": server.authorizeURL]) { $1 },
            stdin: Self.clientSecret
        )
    }

    @Test("a stranger's error callback (without the state) does not abort the login; the real one completes it")
    func strangerCannotAbort() async throws {
        try await withHTTPClient { http in
            let login = try startLogin(timeout: "30s")
            let authorize = try await login.authorizeURL()
            let callback = try await AuthorizeAnswer.redirectLocation(authorize, http: http)
            let base = String(callback.prefix { $0 != "?" })
            for stranger in ["?error=access_denied", "?error=access_denied&state=guess", "?code=evil&state=guess"] {
                let answer = try await http.execute(HTTPClientRequest(url: base + stranger), timeout: .seconds(5))
                #expect(answer.status == .badRequest, "\(stranger)")
            }
            let answer = try await http.execute(HTTPClientRequest(url: callback), timeout: .seconds(5))
            #expect(answer.status == .ok)
            #expect(await login.wait() == 0, "\(login.stderr)")
            #expect(server.stats.authorizationCodeGrants == 1)
            try await cli.succeed(["token", "acme"])
        }
        await server.stop()
    }

    @Test("an error callback with the right state is honoured: exit 1, nothing stored")
    func errorWithState() async throws {
        try await withHTTPClient { http in
            let login = try startLogin(timeout: "30s")
            let authorize = try await login.authorizeURL()
            let state = try #require(URLComponents(string: authorize)?.queryItems?.first { $0.name == "state" }?.value)
            let callback = try await AuthorizeAnswer.redirectLocation(authorize, http: http)
            let base = String(callback.prefix { $0 != "?" })
            let answer = try await http.execute(
                HTTPClientRequest(url: base + "?error=access_denied&state=" + state),
                timeout: .seconds(5)
            )
            #expect(answer.status == .badRequest)
            #expect(await login.wait() == 1)
            #expect(login.stderr.contains("access_denied"), "\(login.stderr)")
            #expect(try await cli.vaultRun(["show", "acme"]).status == 66)
        }
        await server.stop()
    }

    @Test("a client sending one byte every second cannot keep login waiting past --timeout")
    func slowClient() async throws {
        // Long enough that a loaded machine still finds the process alive to read its limits; short beside the 30 s
        // of trickling below.
        let login = try startLogin(timeout: "6s")
        let authorize = try await login.authorizeURL()
        let redirect = try #require(
            URLComponents(string: authorize)?.queryItems?.first { $0.name == "redirect_uri" }?.value
        )
        let port = try #require(URLComponents(string: redirect)?.port)
        // While it waits, the CLI runs without core dumps (and, not visible from here, not dumpable).
        let limits = try String(contentsOfFile: "/proc/\(login.process.processIdentifier)/limits", encoding: .utf8)
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }
        #expect(core?.split(separator: " ", omittingEmptySubsequences: true).suffix(3).prefix(2) == ["0", "0"])
        let handle = try SlowClient(port: port)
        // Trickle for as long as login runs (at most 30 s); login must finish on its own, by its timeout.
        var sent = 0
        while login.process.isRunning && sent < 30 {
            handle.send(UInt8(ascii: "G"))
            sent += 1
            try await Task.sleep(for: .seconds(1))
        }
        #expect(!login.process.isRunning, "login was still waiting after \(sent) s of trickled bytes")
        #expect(await login.wait() == 1)
        #expect(login.stderr.contains("no redirect arrived"), "\(login.stderr)")
        await server.stop()
    }
}

/// A raw TCP client on 127.0.0.1 that writes bytes as it is told.
final class SlowClient: Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw HarnessError(description: "cannot connect to 127.0.0.1:\(port)") }
    }

    func send(_ byte: UInt8) {
        var b = byte
        _ = Glibc.send(fd, &b, 1, Int32(MSG_NOSIGNAL))
    }

    deinit { close(fd) }
}
