import CredentialVault
package import Foundation
package import NIOCore

/// Parses the token endpoint's JSON answers (spec: `OAuth2TokenExchange` and `ErrorOAuth2`).
package enum TokenResponseParser {
    /// Assumed when a token answer has no `expires_in`.
    static let defaultLifetime: Int64 = 3600
    /// The longest lifetime believed.
    static let maximumLifetime: Int64 = 7 * 86400

    /// Server-supplied text made safe to store and print: control characters (terminal escapes) removed, at most
    /// 300 characters.
    static func sanitized(_ text: String) -> String {
        let clean = String(
            text.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }.map(Character.init)
        )
        return clean.count > 300 ? String(clean.prefix(300)) + "…" : clean
    }

    package static func parseSuccess(_ buffer: ByteBuffer, receivedAt: Date) throws(OAuthError) -> TokenResponse {
        let data = Data(buffer.readableBytesView)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw OAuthError(.invalidResponse, "the token endpoint answered 2xx with a body that is not a JSON object")
        }
        guard let access = object["access_token"] as? String, !access.isEmpty else {
            throw OAuthError(.invalidResponse, "the token endpoint answered 2xx without an access_token")
        }
        // Sendcloud's access tokens live one hour: a missing lifetime is taken as that, and any given one is bounded
        // to 0 s ... 7 days, so that a wrong value can neither make every call refresh nor cache a token forever.
        let given: Int64?
        switch object["expires_in"] {
        case let number as NSNumber: given = number.int64Value
        case let text as String: given = Int64(text)
        default: given = nil
        }
        let expiresIn = min(max(given ?? defaultLifetime, 0), maximumLifetime)
        let refresh = (object["refresh_token"] as? String).flatMap { $0.isEmpty ? nil : SecureBytes(utf8: $0) }
        return TokenResponse(
            accessToken: SecureBytes(utf8: access),
            tokenType: object["token_type"] as? String ?? "bearer",
            expiresIn: expiresIn,
            refreshToken: refresh,
            scope: object["scope"] as? String,
            receivedAt: receivedAt
        )
    }

    package struct ErrorBody {
        var status: Int
        var error: String?
        var description: String?
        var hint: String?

        /// ` — error: description (hint)` or empty.
        var detail: String {
            guard let error else { return "" }
            var text = " — \(error)"
            if let description { text += ": \(description)" }
            if let hint { text += " (\(hint))" }
            return text
        }

        var oauthError: OAuthError {
            switch error {
            case "invalid_grant":
                return OAuthError(
                    .reauthorizationRequired,
                    "the server rejected the grant (HTTP \(status))\(detail)",
                    httpStatus: status,
                    oauthError: error
                )
            case "invalid_client":
                return OAuthError(
                    .invalidClient,
                    "client authentication failed (HTTP \(status))\(detail)",
                    httpStatus: status,
                    oauthError: error
                )
            default:
                let what = error == nil ? " with a body that is not an OAuth error" : detail
                return OAuthError(
                    .requestRejected,
                    "the token endpoint refused the request (HTTP \(status))\(what)",
                    httpStatus: status,
                    oauthError: error
                )
            }
        }
    }

    /// The spec's error body; fields are sanitised (printable, at most 300 characters). A non-JSON body yields
    /// only the status: raw bodies are never quoted.
    package static func parseError(_ buffer: ByteBuffer, status: Int) -> ErrorBody {
        let data = Data(buffer.readableBytesView)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return ErrorBody(status: status)
        }
        func field(_ key: String) -> String? {
            guard let text = object[key] as? String, !text.isEmpty else { return nil }
            return sanitized(text)
        }
        return ErrorBody(
            status: status,
            error: field("error"),
            description: field("error_description"),
            hint: field("error_hint")
        )
    }
}
