public import AsyncHTTPClient
public import CredentialVault
import Foundation
public import Logging
public import NIOCore
import NIOHTTP1

extension TokenProvider {
    /// Sets `request`'s `Authorization` header for tenant `name` (replacing any): `Bearer <access token>` (a valid
    /// token, from memory when held), or `Basic base64(public:secret)` for a `basic` account. Returns the Bearer
    /// token it used, for ``refresh(_:ifStillUsing:logger:)`` after a 401; `nil` for a `basic` account.
    ///
    /// The request's URL must be https, or plain http to a loopback host (``TokenURLPolicy``): a tenant's credentials
    /// never travel in clear. Throws ``OAuthError/Code/insecureTokenURL`` otherwise, before anything is read. Which
    /// hosts may receive them is the caller's choice: send only URLs of Sendcloud's API (never a URL taken from a
    /// response or a tenant without checking its host).
    @discardableResult
    public func setAuthorization(
        of request: inout HTTPClientRequest,
        for name: AccountName,
        logger: Logger? = nil
    ) async throws -> AccessToken? {
        do { try TokenURLPolicy.validate(request.url) } catch {
            throw OAuthError(
                .insecureTokenURL,
                "a tenant's credentials are sent only over https (plain http only to a loopback host); the request's "
                    + "URL is neither, and nothing was sent"
            )
        }
        let (value, token) = try await authorization(for: name, logger: logger)
        request.headers.replaceOrAdd(name: "Authorization", value: value)
        return token
    }

    /// Performs `request` on `client` as tenant `name`: sets its `Authorization` header
    /// (``setAuthorization(of:for:logger:)``), and if the API answers 401 to a Bearer token, refreshes once
    /// (``refresh(_:ifStillUsing:logger:)``, so that a burst of 401s for one tenant causes one refresh) and sends the
    /// request once more with the new token. A second 401, and any 401 of a `basic` account, is returned as it is;
    /// so is a 401 to an unexpired token obtained within ``Configuration/refusedTokenMinimumAge`` (30 s) (the API refuses fresh tokens: another
    /// refresh would not help, and would spend the tenant's refresh token and the token endpoint's rate limit).
    ///
    /// The request is sent twice at most, so its body must be replayable: bytes (`.bytes`), not a one-shot stream.
    /// The first 401's body is read (up to 64 KiB) and dropped. Throws what ``accessToken(for:logger:)`` throws
    /// (``OAuthError/Code/reauthorizationRequired`` when the tenant must authorize again) and the HTTP client's
    /// errors.
    public func execute(
        _ request: HTTPClientRequest,
        for name: AccountName,
        on client: HTTPClient,
        timeout: TimeAmount = .seconds(30),
        logger: Logger? = nil
    ) async throws -> HTTPClientResponse {
        var request = request
        let token = try await setAuthorization(of: &request, for: name, logger: logger)
        let response = try await client.execute(request, timeout: timeout, logger: logger)
        guard response.status == .unauthorized, let token, !isFresh(token, now: Date()) else { return response }
        _ = try? await response.body.collect(upTo: 64 * 1024)
        (logger ?? self.logger).notice(
            "the API refused the access token; refreshing once",
            metadata: ["account": "\(name)"]
        )
        let renewed = try await refresh(name, ifStillUsing: token, logger: logger)
        request.headers.replaceOrAdd(name: "Authorization", value: renewed.authorizationHeaderValue)
        return try await client.execute(request, timeout: timeout, logger: logger)
    }

    /// A token obtained in the last ``Configuration/refusedTokenMinimumAge`` that has not expired by our clock: one the API refuses is not
    /// refreshed again (an expired one is: the server's clock may simply be ahead).
    func isFresh(_ token: AccessToken, now: Date) -> Bool {
        guard let obtainedAt = token.obtainedAt, let expiresAt = token.expiresAt, expiresAt > now else { return false }
        let age = now.timeIntervalSince(obtainedAt)  // negative for a clock stepped back or an edited refreshed_at
        return age >= 0 && age < configuration.refusedTokenMinimumAge.inSeconds
    }
}
