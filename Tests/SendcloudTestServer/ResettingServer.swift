import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP listener on 127.0.0.1 that accepts connections and resets them at once (`SO_LINGER` 0, then close),
/// to test how a client handles "connection reset by peer".
public final class ResettingServer: Sendable {
    public struct SocketError: Error, CustomStringConvertible {
        public var operation: String
        public var code: Int32
        public var description: String { "\(operation) failed: \(String(cString: strerror(code)))" }
    }

    private let listener: Int32
    private let finished = DispatchSemaphore(value: 0)
    private let stopped = Mutex(false)
    public let port: Int

    public var url: String { "http://127.0.0.1:\(port)/oauth2/token" }

    private init(listener: Int32, port: Int) {
        self.listener = listener
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

            let server = ResettingServer(listener: descriptor, port: port)
            let thread = Thread { [server] in server.acceptLoop() }
            thread.name = "ResettingServer"
            thread.start()
            return server
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// Stops accepting, waits for the accept thread to end and closes the listener. Calling it again does nothing.
    public func stop() {
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

    deinit {
        stop()
    }

    private func acceptLoop() {
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
            var lingerOption = linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(connection, SOL_SOCKET, SO_LINGER, &lingerOption, socklen_t(MemoryLayout<linger>.size))
            close(connection)
        }
    }

    #if canImport(Glibc)
    private static let streamType = Int32(SOCK_STREAM.rawValue)
    #else
    private static let streamType = SOCK_STREAM
    #endif
}
