import Foundation
import SendcloudTesting
import Testing

extension CLIHarness {
    /// Adds a refresh-token account at `server`'s token URL whose refresh token `server` issued (or `refreshToken`),
    /// the client secret from standard input; returns the refresh token.
    @discardableResult
    func addRefreshAccount(
        _ name: String,
        server: FakeSendcloud,
        clientID: String,
        secret: String,
        refreshToken: String? = nil,
        extra: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        let token = refreshToken ?? server.issueRefreshToken(clientID: clientID)
        let file = try writeFile("rt-\(name)", token + "\n")
        try await succeed(
            [
                "add", name, "--client-id", clientID, "--client-secret-file", "-", "--refresh-token-file", file,
                "--token-url", server.tokenURL,
            ] + extra,
            stdin: Data(secret.utf8),
            sourceLocation: sourceLocation
        )
        return token
    }
}
