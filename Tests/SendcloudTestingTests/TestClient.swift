import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SendcloudTesting
import TestSupport

/// An answer from the fake server, read whole.
struct Reply {
    var status: Int
    var headers: HTTPHeaders
    var body: String

    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    func string(_ key: String) -> String? { json[key] as? String }
    func int(_ key: String) -> Int? { json[key] as? Int }
    func header(_ name: String) -> String? { headers.first(name: name) }
}

/// A thin HTTP client for the tests: redirects are not followed (the authorize endpoint answers 302).
struct TestClient {
    static let clientID = "merchant app:1/ü"
    static let clientSecret = "s3cr+t/=&%x"

    let http: HTTPClient

    static func basic(id: String = clientID, secret: String = clientSecret) -> String {
        let pair = formEncode(id) + ":" + formEncode(secret)
        return "Basic " + Data(pair.utf8).base64EncodedString()
    }

    static func formEncode(_ string: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return string.addingPercentEncoding(withAllowedCharacters: allowed) ?? string
    }

    static func form(_ fields: [(String, String)]) -> String {
        fields.map { formEncode($0.0) + "=" + formEncode($0.1) }.joined(separator: "&")
    }

    func post(
        _ url: String,
        body: String,
        authorization: String? = TestClient.basic(),
        contentType: String = "application/x-www-form-urlencoded"
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        if let authorization {
            request.headers.add(name: "Authorization", value: authorization)
        }
        request.body = .bytes(ByteBuffer(string: body))
        return try await execute(request)
    }

    func token(
        _ server: FakeSendcloud,
        _ fields: [(String, String)],
        authorization: String? = TestClient.basic()
    ) async throws -> Reply {
        try await post(server.tokenURL, body: TestClient.form(fields), authorization: authorization)
    }

    func get(_ url: String, timeout: TimeAmount = .seconds(10)) async throws -> Reply {
        try await execute(HTTPClientRequest(url: url), timeout: timeout)
    }

    private func execute(_ request: HTTPClientRequest, timeout: TimeAmount = .seconds(10)) async throws -> Reply {
        let response = try await http.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 8 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }
}

/// Starts a fake server with the test client registered and a non-redirecting HTTP client; stops both afterwards.
func withServerAndClient(_ body: (FakeSendcloud, TestClient) async throws -> Void) async throws {
    try await withFakeSendcloud(clients: [TestClient.clientID: TestClient.clientSecret]) { server in
        try await withHTTPClient { http in try await body(server, TestClient(http: http)) }
    }
}

/// Runs the authorize step (the redirect not followed) and returns the answer and the redirect's query items.
func authorize(
    _ server: FakeSendcloud,
    _ client: TestClient,
    redirectURI: String = "http://127.0.0.1:9/callback",
    scope: String = "api offline_access",
    state: String = "state-1234567890",
    challenge: String = PKCEVector.challenge,
    clientID: String = TestClient.clientID
) async throws -> (reply: Reply, query: [String: String]) {
    let query = TestClient.form([
        ("response_type", "code"),
        ("client_id", clientID),
        ("redirect_uri", redirectURI),
        ("scope", scope),
        ("state", state),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ])
    let answer = try await AuthorizeAnswer.fetch(server.authorizeURL + "?" + query, http: client.http)
    return (Reply(status: answer.status, headers: answer.headers, body: answer.body), answer.query)
}
