import AsyncHTTPClient
import CredentialVault
import CredentialVaultSQLite
import Foundation
import NIOCore
import NIOHTTP1
import SendcloudTesting
import TestSupport
import Testing

@testable import SendcloudOAuth

@Suite("Grants against a real HTTP token endpoint")
struct GrantTests {
    @Test("client_credentials: scope api, HTTP Basic with form-encoded id and secret, then cached")
    func clientCredentials() async throws {
        try await withHarness { h in
            try await h.addClientCredentialsAccount("acme")
            let token = try await h.provider.accessToken(for: "acme")
            #expect(token.obtainedFromServer)
            #expect(h.server.isAccessTokenValid(token.value.string))
            #expect(h.server.stats.clientCredentialsGrants == 1)
            let form = try #require(h.server.receivedForms.last)
            #expect(form["grant_type"] == "client_credentials")
            #expect(form["scope"] == "api")
            #expect(form["client_secret"] == nil)
            let expected =
                "Basic " + Data("client+id%3Awith%2Fspecials:s3cr3t%2B%26%3D%25%2F+value".utf8).base64EncodedString()
            #expect(h.server.receivedAuthorizationHeaders.last == expected)

            let again = try await h.provider.accessToken(for: "acme")
            #expect(!again.obtainedFromServer)
            #expect(again.value == token.value)
            #expect(h.server.stats.tokenRequests == 1)
            let stored = try await h.vault.openAccount(named: "acme")
            #expect(stored.secrets.accessToken == token.value)
            #expect(stored.account.refreshedAt != nil)
            #expect(try #require(stored.account.accessTokenExpiresAt).timeIntervalSinceNow > 3000)
        }
    }

    @Test("refresh_token: the rotated refresh token is committed, and a second refresh succeeds with it")
    func refreshRotation() async throws {
        try await withHarness { h in
            let first = try await h.addRefreshAccount("acme")
            let token = try await h.provider.accessToken(for: "acme")
            #expect(h.server.stats.refreshGrants == 1)
            let stored = try await h.vault.openAccount(named: "acme")
            let rotated = try #require(stored.secrets.refreshToken?.string)
            #expect(rotated != first)
            #expect(!h.server.isRefreshTokenActive(first))
            #expect(h.server.isRefreshTokenActive(rotated))
            #expect(stored.secrets.accessToken == token.value)

            let second = try await h.provider.refresh("acme")
            #expect(second.obtainedFromServer)
            #expect(second.value != token.value)
            #expect(h.server.stats.refreshGrants == 2)
            #expect(h.server.stats.invalidGrant == 0)
            #expect(
                h.server.isRefreshTokenActive(
                    try #require(try await h.vault.openAccount(named: "acme").secrets.refreshToken?.string)
                )
            )
        }
    }

    @Test("a response without a new refresh token keeps the old one")
    func noRotationKeepsToken() async throws {
        try await withHarness { h in
            h.server.setRotatesRefreshTokens(false)
            let first = try await h.addRefreshAccount("acme")
            _ = try await h.provider.accessToken(for: "acme")
            _ = try await h.provider.refresh("acme")
            #expect(try await h.vault.openAccount(named: "acme").secrets.refreshToken?.string == first)
            #expect(h.server.stats.refreshGrants == 2)
        }
    }

    @Test("authorization_code with PKCE S256 stores a refresh-token account that refreshes")
    func authorizationCode() async throws {
        try await withHarness { h in
            let (session, code) = try await authorizeInBrowser(h)
            let account = try await h.provider.authorize(
                Account(name: "acme", mode: .refreshToken, clientID: Harness.clientID, tokenURL: h.server.tokenURL),
                clientSecret: SecureBytes(utf8: Harness.clientSecret),
                code: code,
                redirectURI: session.redirectURI,
                codeVerifier: session.codeVerifier
            )
            #expect(account.storedFields == [.clientSecret, .refreshToken, .accessToken])
            #expect(h.server.stats.authorizationCodeGrants == 1)
            let form = try #require(h.server.receivedForms.last)
            #expect(form["code_verifier"] == session.codeVerifier.string)
            #expect(form["redirect_uri"] == session.redirectURI)
            _ = try await h.provider.refresh("acme")
            #expect(h.server.stats.refreshGrants == 1)
        }
    }

    @Test("a wrong PKCE verifier is invalid_grant and stores nothing")
    func wrongVerifier() async throws {
        try await withHarness { h in
            let (session, code) = try await authorizeInBrowser(h)
            await expectOAuthError(.reauthorizationRequired) {
                try await h.provider.authorize(
                    Account(name: "acme", mode: .refreshToken, clientID: Harness.clientID, tokenURL: h.server.tokenURL),
                    clientSecret: SecureBytes(utf8: Harness.clientSecret),
                    code: code,
                    redirectURI: session.redirectURI,
                    codeVerifier: SecureBytes(utf8: String(repeating: "x", count: 43))
                )
            }
            #expect(try await h.vault.accounts().isEmpty)
        }
    }

    @Test("a mismatched state or an error redirect is refused")
    func stateMismatch() {
        let session = AuthorizationSession(redirectURI: "http://127.0.0.1:9/callback")
        let mismatched = #expect(throws: OAuthError.self) {
            try session.code(from: ["code": "c", "state": session.state + "x"])
        }
        #expect(mismatched?.code == .authorizationFailed)
        #expect(mismatched?.message.contains("state") == true, "\(String(describing: mismatched))")
        let missing = #expect(throws: OAuthError.self) { try session.code(from: ["code": "c"]) }
        #expect(missing?.code == .authorizationFailed)
        #expect(missing?.message.contains("state") == true, "\(String(describing: missing))")
        let refused = #expect(throws: OAuthError.self) {
            try session.code(from: ["error": "access_denied", "state": session.state])
        }
        #expect(refused?.code == .authorizationFailed)
        #expect(refused?.message.contains("access_denied") == true, "\(String(describing: refused))")
        #expect((try? session.code(from: ["code": "c", "state": session.state]))?.string == "c")
        #expect(session.codeVerifier.count >= 43)
    }

    @Test(
        "invalid_grant marks the account reauth-required, keeps its secrets, and later calls do not contact the server"
    )
    func invalidGrant() async throws {
        try await withHarness { h in
            try await h.addRefreshAccount("acme", refreshToken: "rt_not_issued_by_the_server")
            try await h.addRefreshAccount("other")
            let error = await expectOAuthError(.reauthorizationRequired) {
                try await h.provider.accessToken(for: "acme")
            }
            #expect(error?.oauthError == "invalid_grant")
            let (account, secrets) = try await h.vault.openAccount(named: "acme")
            #expect(account.status == .reauthRequired)
            #expect(account.lastError?.contains("invalid_grant") == true)
            #expect(secrets.refreshToken?.string == "rt_not_issued_by_the_server")
            #expect(secrets.clientSecret?.string == Harness.clientSecret)

            let before = h.server.stats.tokenRequests
            await expectOAuthError(.reauthorizationRequired) { try await h.provider.accessToken(for: "acme") }
            await expectOAuthError(.reauthorizationRequired) { try await h.provider.refresh("acme") }
            #expect(h.server.stats.tokenRequests == before)
            // refresh with retryReauthorization goes back to the server (and fails again here).
            await expectOAuthError(.reauthorizationRequired) {
                try await h.provider.refresh("acme", retryReauthorization: true)
            }
            #expect(h.server.stats.tokenRequests == before + 1)
            // Other accounts are unaffected.
            _ = try await h.provider.accessToken(for: "other")
            #expect(try await h.vault.account(named: "other").status == .ok)
        }
    }

    @Test("a reused refresh token revokes the chain at the server: invalid_grant, never a silent success")
    func reuseDetection() async throws {
        try await withHarness { h in
            let original = try await h.addRefreshAccount("acme")
            _ = try await h.provider.accessToken(for: "acme")
            // Someone replays the original token (e.g. a stale copy elsewhere): Hydra revokes the chain.
            try await h.addRefreshAccount("stale-copy", refreshToken: original)
            await expectOAuthError(.reauthorizationRequired) { try await h.provider.accessToken(for: "stale-copy") }
            await expectOAuthError(.reauthorizationRequired) { try await h.provider.refresh("acme") }
            #expect(try await h.vault.account(named: "acme").status == .reauthRequired)
        }
    }

    @Test("invalid_client is reported as such and deletes nothing")
    func invalidClient() async throws {
        try await withHarness { h in
            try await h.addClientCredentialsAccount("acme", secret: "rotated-away")
            try await h.addRefreshAccount("bolt", secret: "rotated-away")
            await expectOAuthError(.invalidClient) { try await h.provider.accessToken(for: "acme") }
            await expectOAuthError(.invalidClient) { try await h.provider.accessToken(for: "bolt") }
            let (account, secrets) = try await h.vault.openAccount(named: "bolt")
            #expect(account.status == .ok)
            #expect(secrets.refreshToken != nil)
            #expect(h.server.stats.invalidClient == 2)
        }
    }

    @Test("basic accounts have no token but give a Basic header")
    func basicMode() async throws {
        try await withHarness { h in
            try await h.vault.addAccount(
                Account(name: "legacy", mode: .basic, clientID: "public", tokenURL: h.server.tokenURL),
                secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "secret"))
            )
            await expectOAuthError(.notSupported) { try await h.provider.accessToken(for: "legacy") }
            #expect(
                try await h.provider.authorizationHeaderValue(for: "legacy") == "Basic "
                    + Data("public:secret".utf8).base64EncodedString()
            )
            #expect(h.server.stats.tokenRequests == 0)
        }
    }
}

/// Plays the browser: a new session, its authorize URL fetched, the code taken from the redirect (state checked).
func authorizeInBrowser(_ h: Harness) async throws -> (AuthorizationSession, SecureBytes) {
    let session = AuthorizationSession(redirectURI: "http://127.0.0.1:9/callback")
    let url = try session.authorizeURL(
        base: h.server.authorizeURL,
        clientID: Harness.clientID,
        scope: "api offline_access"
    )
    return (session, try session.code(from: try await AuthorizeAnswer.redirect(url, http: h.http).query))
}
