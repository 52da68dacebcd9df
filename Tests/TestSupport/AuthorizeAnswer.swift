public import AsyncHTTPClient
import Foundation
public import NIOCore
public import NIOHTTP1
public import Testing

/// The authorize endpoint's answer to a GET, read whole, its redirect not followed.
public struct AuthorizeAnswer: Sendable {
    /// The HTTP status (302 when the server approved).
    public var status: Int
    /// The response headers.
    public var headers: HTTPHeaders
    /// The body as UTF-8 text (an error's JSON; empty for a redirect).
    public var body: String

    /// The `Location` header, if any.
    public var location: String? { headers.first(name: "Location") }

    /// Whether the answer is a redirect (302, 303 or 307) with a `Location`.
    public var isRedirect: Bool { [302, 303, 307].contains(status) && location != nil }

    /// The query items of ``location`` (`code`, `state`, `error`, …), the first value of a repeated name; empty when
    /// there is no redirect. A name without a value maps to "".
    public var query: [String: String] {
        guard let location, let components = URLComponents(string: location) else { return [:] }
        var items: [String: String] = [:]
        for item in components.queryItems ?? [] where items[item.name] == nil {
            items[item.name] = item.value ?? ""
        }
        return items
    }

    /// GETs `url` with `http` (which must not follow redirects: see ``makeNonRedirectingHTTPClient()``) and reads
    /// the whole answer (at most 8 MiB).
    public static func fetch(
        _ url: String,
        http: HTTPClient,
        timeout: TimeAmount = .seconds(10)
    ) async throws -> AuthorizeAnswer {
        let response = try await http.execute(HTTPClientRequest(url: url), timeout: timeout)
        let body = try await response.body.collect(upTo: 8 << 20)
        return AuthorizeAnswer(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    /// ``fetch(_:http:timeout:)``, requiring a redirect: records an issue and throws when the answer is not one.
    public static func redirect(
        _ url: String,
        http: HTTPClient,
        timeout: TimeAmount = .seconds(10),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> AuthorizeAnswer {
        let answer = try await fetch(url, http: http, timeout: timeout)
        try #require(
            answer.isRedirect,
            "not a redirect: \(answer.status) \(answer.body)",
            sourceLocation: sourceLocation
        )
        return answer
    }

    /// The `Location` of the redirect that ``redirect(_:http:timeout:sourceLocation:)`` requires.
    public static func redirectLocation(
        _ url: String,
        http: HTTPClient,
        timeout: TimeAmount = .seconds(10),
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        let answer = try await redirect(url, http: http, timeout: timeout, sourceLocation: sourceLocation)
        return try #require(answer.location, sourceLocation: sourceLocation)
    }
}
