import CredentialVault
import Foundation
package import FuzzSupport
import NIOCore
import SendcloudOAuth

/// The OAuth client's parsers of what the network hands it: token endpoint answers, form-encoded queries, the
/// loopback redirect.
package enum OAuthFuzzTargets {
    /// Any fixed instant: parsing must not depend on the clock.
    static let receivedAt = Date(timeIntervalSince1970: 1_764_590_400)

    /// The input is a token endpoint body: `parseSuccess` must return or throw `OAuthError` (and bound the
    /// lifetime to 0 s … 7 days); `parseError` must not trap. (`ErrorBody.oauthError`, which builds the message,
    /// is internal to SendcloudOAuth and so not reached.)
    package static let tokenResponse = FuzzTarget(name: "fuzz-token-response") { bytes in
        let buffer = ByteBuffer(bytes: bytes)
        var outcome = FuzzOutcome.rejected
        do throws(OAuthError) {
            let token = try TokenResponseParser.parseSuccess(buffer, receivedAt: receivedAt)
            guard let lifetime = token.expiresIn, (0...7 * 86400).contains(lifetime), !token.accessToken.isEmpty else {
                return .unexpected("token lifetime \(String(describing: token.expiresIn)) is out of bounds")
            }
            _ = token.expiresAt
            outcome = .accepted
        } catch {
            _ = error.description
        }
        _ = TokenResponseParser.parseError(buffer, status: 400)
        return outcome
    }

    /// The input is a query string or form body; `FormEncoding.decode` must not trap.
    package static let form = FuzzTarget(name: "fuzz-form") { bytes in
        let query = String(decoding: bytes, as: UTF8.self)
        let pairs = FormEncoding.decode(Substring(query))
        let separators = query.utf8.count { $0 == UInt8(ascii: "&") }
        guard pairs.count <= separators + 1 else {
            return .unexpected("\(pairs.count) pairs from \(separators) separators")
        }
        return .accepted
    }

    /// One session for the whole run (its `state` is random per process).
    static let session = AuthorizationSession(redirectURI: "http://127.0.0.1:1/callback")

    /// Stands for the random `state` of the session in inputs, so that the fuzzer can reach the success path.
    static let statePlaceholder = "STATE"

    /// The input is the request target of the loopback redirect (`/callback?code=…&state=…`), parsed by the
    /// listener's own function; `AuthorizationSession.code(from:)` must return the code or throw `OAuthError`. A `state`
    /// of `STATE` is replaced by the session's own. Accepted when a code comes out.
    package static let redirectQuery = FuzzTarget(name: "fuzz-redirect-query") { bytes in
        guard
            var parameters = LoopbackRedirectReceiver.callbackParameters(target: String(decoding: bytes, as: UTF8.self))
        else { return .rejected }
        if parameters["state"] == statePlaceholder { parameters["state"] = session.state }
        do throws(OAuthError) {
            let code = try session.code(from: parameters)
            guard !code.isEmpty else { return .unexpected("an empty authorization code was accepted") }
            return .accepted
        } catch {
            _ = error.description
            return .rejected
        }
    }

    /// Every target of this module.
    package static let all = [tokenResponse, form, redirectQuery]
}
