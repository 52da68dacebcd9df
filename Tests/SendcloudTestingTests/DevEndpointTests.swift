import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SendcloudTesting
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("sendcloud-dev-endpoint (the built binary)")
struct DevEndpointTests {
    static let clientID = "dev client/1"
    static let clientSecret = "dev s3cret+&="

    let directory: TempDir

    init() throws {
        directory = try TempDir(prefix: "dev-endpoint")
    }

    /// A clients file with the test client, of mode `mode`.
    func clientsFile(mode: mode_t = 0o600) throws -> String {
        let path = directory.file("clients.json")
        let json = try JSONSerialization.data(withJSONObject: [Self.clientID: Self.clientSecret])
        #expect(FileManager.default.createFile(atPath: path, contents: json))
        #expect(chmod(path, mode) == 0)
        return path
    }

    /// The URL after `label: ` in the printed lines.
    func url(_ label: String, in lines: [String]) throws -> String {
        let line = try #require(lines.first { $0.hasPrefix(label + ": ") })
        return String(line.dropFirst(label.count + 2))
    }

    @Test("prints its URLs, serves a client_credentials grant and an API call, and exits 0 on SIGTERM")
    func servesAndStopsOnSIGTERM() async throws {
        let endpoint = try BinaryProcess(
            "sendcloud-dev-endpoint",
            ["--clients-file", try clientsFile(), "--access-token-lifetime", "120"],
            in: directory
        )
        let lines = try await endpoint.lines(3)
        let tokenURL = try url("token endpoint", in: lines)
        let port = try #require(tokenURL.wholeMatch(of: /http:\/\/127\.0\.0\.1:(\d+)\/oauth2\/token/)?.1)
        #expect(try url("authorize endpoint", in: lines) == "http://127.0.0.1:\(port)/oauth2/auth")
        let apiURL = try url("api", in: lines)
        #expect(apiURL == "http://127.0.0.1:\(port)/api/v3/user/auth/metadata")

        try await withHTTPClient { http in
            let client = TestClient(http: http)
            let grant = try await client.post(
                tokenURL,
                body: TestClient.form([("grant_type", "client_credentials"), ("scope", "api")]),
                authorization: TestClient.basic(id: Self.clientID, secret: Self.clientSecret)
            )
            #expect(grant.status == 200)
            #expect(grant.int("expires_in") == 120)
            let token = try #require(grant.string("access_token"))

            var request = HTTPClientRequest(url: apiURL)
            request.headers.add(name: "Authorization", value: "Bearer " + token)
            let response = try await http.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            #expect(response.status.code == 200)
            let json = try JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8)) as? [String: Any]
            let data = try #require(json?["data"] as? [String: Any])
            #expect(data["client_id"] as? String == Self.clientID)

            let wrong = try await client.post(
                tokenURL,
                body: TestClient.form([("grant_type", "client_credentials")]),
                authorization: TestClient.basic(id: Self.clientID, secret: "wrong")
            )
            #expect(wrong.status == 401)
        }

        endpoint.send(SIGTERM)
        let exit = try await endpoint.exit()
        #expect(exit.status == 0 && !exit.signalled, "stderr: \(endpoint.stderr)")
        #expect(endpoint.stdout.split(separator: "\n").count == 3)
        #expect(!endpoint.stdout.contains(Self.clientSecret) && !endpoint.stderr.contains(Self.clientSecret))
    }

    @Test("--accept-any-client warns on stderr, accepts a new client id, and SIGINT exits 0")
    func acceptAnyClientAndSIGINT() async throws {
        let endpoint = try BinaryProcess(
            "sendcloud-dev-endpoint",
            ["--accept-any-client", "--port", "0"],
            in: directory
        )
        let tokenURL = try url("token endpoint", in: try await endpoint.lines(3))
        #expect(endpoint.stderr.contains("WARNING"))
        try await withHTTPClient { http in
            let client = TestClient(http: http)
            let first = try await client.post(
                tokenURL,
                body: TestClient.form([("grant_type", "client_credentials")]),
                authorization: TestClient.basic(id: "any-app", secret: "whatever")
            )
            #expect(first.status == 200)
            let other = try await client.post(
                tokenURL,
                body: TestClient.form([("grant_type", "client_credentials")]),
                authorization: TestClient.basic(id: "any-app", secret: "another")
            )
            #expect(other.status == 401)
        }
        endpoint.send(SIGINT)
        let exit = try await endpoint.exit()
        #expect(exit.status == 0 && !exit.signalled, "stderr: \(endpoint.stderr)")
    }

    @Test("a clients file readable by group or others is refused (78), and nothing is served")
    func refusesAnUnsafeClientsFile() async throws {
        let endpoint = try BinaryProcess(
            "sendcloud-dev-endpoint",
            ["--clients-file", try clientsFile(mode: 0o640)],
            in: directory
        )
        let exit = try await endpoint.exit()
        #expect(exit.status == 78 && !exit.signalled)
        #expect(endpoint.stdout.isEmpty)
        #expect(endpoint.stderr.contains("chmod 600"))
        #expect(!endpoint.stderr.contains(Self.clientSecret))
    }

    @Test("a clients file that is not a JSON object of strings is refused (65) without quoting it")
    func refusesAMalformedClientsFile() async throws {
        let path = directory.file("clients.json")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(#"{"id": 1, "x": "s3cr3t-x"}"#.utf8)))
        #expect(chmod(path, 0o600) == 0)
        let endpoint = try BinaryProcess("sendcloud-dev-endpoint", ["--clients-file", path], in: directory)
        let exit = try await endpoint.exit()
        #expect(exit.status == 65)
        #expect(!endpoint.stderr.contains("s3cr3t-x"))
    }

    @Test("a non-loopback host is refused (64)")
    func refusesANonLoopbackHost() async throws {
        for host in ["0.0.0.0", "10.0.0.1"] {
            let endpoint = try BinaryProcess(
                "sendcloud-dev-endpoint",
                ["--accept-any-client", "--host", host],
                in: directory
            )
            let exit = try await endpoint.exit()
            #expect(exit.status == 64, "stderr: \(endpoint.stderr)")
            #expect(endpoint.stdout.isEmpty)
        }
    }

    @Test("without a source of clients it is a usage error (64); --help warns about --accept-any-client")
    func usage() async throws {
        let bare = try BinaryProcess("sendcloud-dev-endpoint", [], in: directory)
        #expect(try await bare.exit().status == 64)
        #expect(bare.stderr.contains("--clients-file"))
        let help = try BinaryProcess("sendcloud-dev-endpoint", ["--help"], in: directory)
        #expect(try await help.exit().status == 0)
        #expect(help.stdout.contains("WARNING: --accept-any-client"))
        #expect(help.stdout.contains("DEVELOPMENT ONLY"))
    }
}
