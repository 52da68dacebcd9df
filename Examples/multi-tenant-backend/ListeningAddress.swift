import Synchronization

/// The URL the server listens on, known once it runs (`HTTP_PORT=0` picks a free port): the default base of the
/// OAuth redirect URI.
final class ListeningAddress: Sendable {
    private let url = Mutex<String?>(nil)

    /// Records the URL.
    func set(_ value: String) { url.withLock { $0 = value } }

    /// The URL, once the server runs.
    var value: String? { url.withLock { $0 } }
}
