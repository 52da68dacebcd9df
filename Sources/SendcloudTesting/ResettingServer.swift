import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP listener on 127.0.0.1 that accepts connections and resets them (`SO_LINGER` 0, then close) as soon as
/// the request has arrived, without answering: to test how a client handles "connection reset by peer".
public final class ResettingServer: Sendable {
    /// A socket call failed while starting the server.
    public struct SocketError: Error, CustomStringConvertible {
        /// The call that failed, such as `bind`.
        public var operation: String
        /// Its `errno`.
        public var code: Int32
        /// The call and the system's message for the error.
        public var description: String { "\(operation) failed: \(String(cString: strerror(code)))" }
    }

    private let loop: AcceptLoop
    /// The port on 127.0.0.1 the server listens on.
    public let port: Int

    /// A token-endpoint URL on this server (every path is reset alike).
    public var url: String { "http://127.0.0.1:\(port)/oauth2/token" }

    private init(loop: AcceptLoop, port: Int) {
        self.loop = loop
        self.port = port
    }

    /// Binds 127.0.0.1 on a free port and starts accepting (and resetting) on a background thread.
    public static func start() throws -> ResettingServer {
        let descriptor = socket(AF_INET, Self.streamType, 0)
        guard descriptor >= 0 else { throw SocketError(operation: "socket", code: errno) }
        do {
            var reuse: Int32 = 1
            guard setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size)) == 0
            else { throw SocketError(operation: "setsockopt(SO_REUSEADDR)", code: errno) }

            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else { throw SocketError(operation: "bind", code: errno) }
            guard listen(descriptor, 64) == 0 else { throw SocketError(operation: "listen", code: errno) }

            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            guard named == 0 else { throw SocketError(operation: "getsockname", code: errno) }
            let port = Int(UInt16(bigEndian: address.sin_port))

            let loop = AcceptLoop(listener: descriptor)
            // The thread holds the loop, not the server, so that dropping the server stops it (deinit).
            let thread = Thread { [loop] in loop.run() }
            thread.name = "ResettingServer"
            thread.start()
            return ResettingServer(loop: loop, port: port)
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// Stops accepting, waits for the accept thread to end and closes the listener. Calling it again does nothing.
    public func stop() {
        loop.stop()
    }

    deinit {
        loop.stop()
    }

    #if canImport(Glibc)
    private static let streamType = Int32(SOCK_STREAM.rawValue)
    #else
    private static let streamType = SOCK_STREAM
    #endif
}

/// The listening socket and its accept thread.
private final class AcceptLoop: Sendable {
    private let listener: Int32
    private let finished = DispatchSemaphore(value: 0)
    private let stopped = Mutex(false)

    init(listener: Int32) {
        self.listener = listener
    }

    /// Stops accepting, waits for the accept thread to end and closes the listener. Idempotent.
    func stop() {
        let alreadyStopped = stopped.withLock { stopped in
            defer { stopped = true }
            return stopped
        }
        guard !alreadyStopped else { return }
        // Wakes the blocked accept() (it fails with EINVAL on a shut-down listener).
        shutdown(listener, Int32(SHUT_RDWR))
        finished.wait()
        close(listener)
    }

    func run() {
        defer { finished.signal() }
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            if stopped.withLock({ $0 }) {
                close(connection)
                return
            }
            Self.readRequest(connection)
            var lingerOption = linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(connection, SOL_SOCKET, SO_LINGER, &lingerOption, socklen_t(MemoryLayout<linger>.size))
            close(connection)
        }
    }

    /// Reads the request (head and `Content-Length` body, each read waiting at most a second) so that the reset
    /// reaches a client that is waiting for the response. Resetting before the request has been read makes
    /// AsyncHTTPClient treat it as a failed connection attempt and retry until its deadline.
    private static func readRequest(_ connection: Int32) {
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        _ = setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var expectedTotal: Int?
        while received.count < 1 << 20 {
            if let expectedTotal, received.count >= expectedTotal { return }
            let count = chunk.withUnsafeMutableBytes { recv(connection, $0.baseAddress!, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            received.append(contentsOf: chunk[0..<count])
            if expectedTotal == nil, let end = headEnd(received) {
                expectedTotal = end + contentLength(head: received[0..<end])
            }
        }
    }

    /// The offset just past the `\r\n\r\n` ending the request head.
    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        let terminator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4 else { return nil }
        for start in 0...(bytes.count - 4) where bytes[start..<start + 4].elementsEqual(terminator) {
            return start + 4
        }
        return nil
    }

    private static func contentLength(head: ArraySlice<UInt8>) -> Int {
        let text = String(decoding: head, as: UTF8.self)
        for line in text.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                return Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        return 0
    }
}
