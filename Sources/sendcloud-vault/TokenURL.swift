import Foundation

/// The token endpoint rule of DESIGN §5: https, or plain http only to a loopback host.
enum TokenURL {
    static let sendcloudDefault = "https://account.sendcloud.com/oauth2/token"

    /// `--token-url`, else `SENDCLOUD_TOKEN_URL`, else Sendcloud's; refused (78) unless secure.
    static func choose(_ flag: String?) throws -> String {
        let url = flag ?? SecretInput.plainEnvironment("SENDCLOUD_TOKEN_URL") ?? sendcloudDefault
        try validate(url)
        return url
    }

    static func validate(_ text: String) throws {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host,
            !host.isEmpty
        else { throw CLIError.configuration("the token URL '\(text)' is not an absolute URL") }
        if scheme == "https" { return }
        let loopback = host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
        guard scheme == "http", loopback else {
            throw CLIError.configuration(
                "the token URL must use https (plain http is allowed only for loopback hosts): \(text)"
            )
        }
    }
}
