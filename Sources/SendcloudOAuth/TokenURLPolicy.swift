import Foundation

/// The transport rule for token and authorize URLs: https, or plain http to a loopback host only
/// (127.0.0.0/8, ::1, localhost) for tests and local development.
public enum TokenURLPolicy {
    /// Sendcloud's token endpoint.
    public static let sendcloudTokenURL = "https://account.sendcloud.com/oauth2/token"
    /// Sendcloud's authorization endpoint.
    public static let sendcloudAuthorizeURL = "https://account.sendcloud.com/oauth2/auth"

    /// Throws ``OAuthError/Code/insecureTokenURL`` unless `text` is an absolute https URL, or http to loopback.
    public static func validate(_ text: String) throws(OAuthError) {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host,
            !host.isEmpty
        else {
            throw OAuthError(.insecureTokenURL, "'\(text.prefix(200))' is not an absolute URL")
        }
        if scheme == "https" { return }
        guard scheme == "http", isLoopback(host) else {
            throw OAuthError(
                .insecureTokenURL,
                "\(text.prefix(200)) is refused: token URLs must use https (plain http only for loopback hosts)"
            )
        }
    }

    /// Whether `host` names the loopback interface.
    public static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { UInt8($0) != nil }
    }
}
