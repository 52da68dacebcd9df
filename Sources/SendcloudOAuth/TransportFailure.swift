import AsyncHTTPClient
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A transport error of the HTTP client or SwiftNIO, in plain words for an operator: "connection refused", "the host
/// name could not be resolved", "no answer within the timeout". The error types below ours describe themselves for
/// their developers (`IOError: connection reset (error set): Connection refused) (errno: 111)`); the original stays
/// available as ``OAuthError/underlying``.
enum TransportFailure {
    /// Plain words for `error`.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as IOError:
            return describe(errno: error.errnoCode)
        case let error as NIOConnectionError:
            if let failure = error.connectionErrors.first { return describe(failure.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil {
                return "the host name \(error.host) could not be resolved"
            }
            return "no connection to \(error.host):\(error.port)"
        case let error as ChannelError:
            return channel(error)
        case let error as HTTPClientError:
            return http(error)
        case is NIOTooManyBytesError:
            return "the answer is too large"
        default:
            return "the connection failed (\(type(of: error)))"
        }
    }

    private static func http(_ error: HTTPClientError) -> String {
        switch error {
        case .connectTimeout: "connecting timed out"
        case .readTimeout, .deadlineExceeded, .writeTimeout: "no answer within the timeout"
        case .remoteConnectionClosed: "the server closed the connection before answering"
        case .cancelled: "the request was cancelled"
        case .invalidURL, .emptyHost, .emptyScheme: "the token URL is not usable"
        case .tlsHandshakeTimeout: "the TLS handshake timed out"
        default: "the HTTP request failed (\(String(describing: error).prefix(80)))"
        }
    }

    private static func channel(_ error: ChannelError) -> String {
        switch error {
        case .connectTimeout: "connecting timed out"
        case .eof, .alreadyClosed, .ioOnClosedChannel, .outputClosed, .inputClosed:
            "the server closed the connection before answering"
        default: "the connection failed"
        }
    }

    /// `connection refused` and the like; any other errno by its C description.
    static func describe(errno code: Int32) -> String {
        switch code {
        case ECONNREFUSED: "connection refused"
        case ECONNRESET: "the connection was reset"
        case ETIMEDOUT: "connecting timed out"
        case ENETUNREACH: "the network is unreachable"
        case EHOSTUNREACH: "the host is unreachable"
        case EPIPE: "the server closed the connection"
        default: String(cString: strerror(code)).lowercased()
        }
    }
}
