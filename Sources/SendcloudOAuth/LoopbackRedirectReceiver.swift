import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-shot HTTP listener on 127.0.0.1 for the OAuth redirect (RFC 8252 §7.3).
///
/// Answers requests to other paths with 404 and keeps waiting; the first `GET /callback?...` is answered with a
/// short page and its query parameters are returned.
public final class LoopbackRedirectReceiver: Sendable {
    /// The bound port.
    public let port: Int
    private let socket: Int32

    /// The redirect URI to register with the authorization request.
    public var redirectURI: String { "http://127.0.0.1:\(port)/callback" }

    /// Binds 127.0.0.1:`port` (0 = any free port).
    public init(port: Int = 0) throws(OAuthError) {
        #if canImport(Glibc)
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = Darwin.socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw OAuthError(.authorizationFailed, "cannot open a socket") }
        var yes: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 8) == 0 else {
            let reason = String(cString: strerror(errno))
            _ = close(fd)
            throw OAuthError(.authorizationFailed, "cannot listen on 127.0.0.1:\(port): \(reason)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        self.socket = fd
    }

    deinit { _ = close(socket) }

    /// Waits for the redirect and returns its query parameters. Throws ``OAuthError/Code/authorizationFailed``
    /// after `timeout`.
    public func waitForRedirect(timeout: Duration) async throws(OAuthError) -> [String: String] {
        let fd = socket
        let deadline = Date().addingTimeInterval(TokenProvider.seconds(timeout))
        let result: Result<[String: String], OAuthError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: Self.serve(fd, until: deadline))
            }
            thread.start()
        }
        return try result.get()
    }

    private static func serve(_ listener: Int32, until deadline: Date) -> Result<[String: String], OAuthError> {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else {
                return .failure(OAuthError(.authorizationFailed, "no redirect arrived before the timeout"))
            }
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(remaining, 1) * 1000))
            if ready <= 0 { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            defer { _ = close(connection) }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            _ = setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            guard let target = readRequestTarget(connection) else { continue }
            let parts = target.split(separator: "?", maxSplits: 1)
            guard parts.first == "/callback" else {
                respond(connection, status: "404 Not Found", body: "Not found.")
                continue
            }
            var parameters: [String: String] = [:]
            if parts.count > 1 { for (key, value) in FormEncoding.decode(parts[1]) { parameters[key] = value } }
            let ok = parameters["code"] != nil && parameters["error"] == nil
            respond(
                connection,
                status: ok ? "200 OK" : "400 Bad Request",
                body: ok
                    ? "Authorization received. You can close this window and return to the terminal."
                    : "Authorization failed. Return to the terminal for details."
            )
            return .success(parameters)
        }
    }

    /// The request target of a `GET` request line (only the first line is needed; at most 16 KiB is read).
    private static func readRequestTarget(_ connection: Int32) -> Substring? {
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 2048)
        while data.count < 16_384 && !data.contains(UInt8(ascii: "\n")) {
            let n = chunk.withUnsafeMutableBytes { read(connection, $0.baseAddress!, $0.count) }
            if n <= 0 { break }
            data += chunk[0..<n]
        }
        guard let end = data.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let line = String(decoding: data[..<end], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let fields = line.split(separator: " ")
        guard fields.count >= 2, fields[0] == "GET" else { return nil }
        return Substring(fields[1])
    }

    private static func respond(_ connection: Int32, status: String, body: String) {
        let html = "<!doctype html><title>sendcloud-vault</title><p>\(body)</p>"
        let response =
            "HTTP/1.1 \(status)\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: \(html.utf8.count)\r\n"
            + "Connection: close\r\nCache-Control: no-store\r\n\r\n" + html
        _ = response.withCString { write(connection, $0, strlen($0)) }
    }
}
