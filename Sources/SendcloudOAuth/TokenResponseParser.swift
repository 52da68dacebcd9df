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
        guard TokenSyntax.isB64Token(access.utf8) else {
            throw OAuthError(
                .invalidResponse,
                "the token endpoint's access_token has characters a bearer token cannot have (RFC 6750 b64token)"
            )
        }
        let refresh = try optionalText(
            object["refresh_token"],
            { TokenSyntax.isB64Token($0.utf8) },
            "the token endpoint's refresh_token is not a string of RFC 6750 b64token characters"
        ).map { SecureBytes(utf8: $0) }
        let scope = try optionalText(
            object["scope"],
            TokenSyntax.isScope,
            "the token endpoint's scope is not a valid OAuth scope (RFC 6749 §3.3)"
        )
        return TokenResponse(
            accessToken: SecureBytes(utf8: access),
            tokenType: (object["token_type"] as? String).flatMap { TokenSyntax.isScope($0) ? $0 : nil } ?? "bearer",
            expiresIn: try expiresIn(object["expires_in"]),
            refreshToken: refresh,
            scope: scope,
            receivedAt: receivedAt
        )
    }

    /// An optional text field: absent, null or empty is `nil`; a string `isValid` accepts is itself; anything else
    /// makes the answer unusable.
    static func optionalText(
        _ value: Any?,
        _ isValid: (String) -> Bool,
        _ problem: String
    ) throws(OAuthError) -> String? {
        switch value {
        case nil, is NSNull: return nil
        case let text as String where text.isEmpty: return nil
        case let text as String where isValid(text): return text
        default: throw OAuthError(.invalidResponse, problem)
        }
    }

    /// Sendcloud's access tokens live one hour: a missing lifetime is taken as that; a given one is a number of
    /// seconds (a JSON number, or a string of digits), clamped to 0 s ... 7 days so that a wrong value can neither
    /// make every call refresh nor cache a token forever. A negative, non-finite or non-numeric value (`true`,
    /// `"soon"`, an object) makes the answer unusable.
    static func expiresIn(_ value: Any?) throws(OAuthError) -> Int64 {
        let seconds: Double
        switch value {
        case nil, is NSNull:
            return defaultLifetime
        case let number as NSNumber where String(cString: number.objCType) != "c":  // "c": a JSON true/false
            seconds = number.doubleValue
        case let text as String:
            // Digits (and a fraction or exponent); not "inf", "nan" or hex, which Double(_:) would also take.
            guard let parsed = Double(text.trimmingCharacters(in: .whitespaces)), parsed.isFinite,
                text.unicodeScalars.allSatisfy({ "0123456789.eE+- ".unicodeScalars.contains($0) })
            else {
                throw OAuthError(.invalidResponse, "the token endpoint's expires_in is not a number")
            }
            seconds = parsed
        default:
            throw OAuthError(.invalidResponse, "the token endpoint's expires_in is not a number")
        }
        guard !seconds.isNaN, seconds >= 0 else {
            throw OAuthError(.invalidResponse, "the token endpoint's expires_in is negative or not a number")
        }
        return seconds >= Double(maximumLifetime) ? maximumLifetime : Int64(seconds)
    }

    package struct ErrorBody {
        var status: Int
        var error: String?
        var description: String?
        var hint: String?

        /// ` — error: description (hint)` or empty; a description or hint that only repeats what comes before it is
        /// left out (servers send the same sentence as both).
        var detail: String {
            guard let error else { return "" }
            var text = " — \(error)"
            if let description, !Self.repeats(description, error) { text += ": \(description)" }
            if let hint, !Self.repeats(hint, error), !Self.repeats(hint, description ?? "") { text += " (\(hint))" }
            return text
        }

        /// Whether `text` says nothing that `earlier` did not (the same words, ignoring case, spacing and a full
        /// stop; or contained in it).
        static func repeats(_ text: String, _ earlier: String) -> Bool {
            func normal(_ value: String) -> String {
                value.lowercased().filter { $0.isLetter || $0.isNumber }
            }
            let (text, earlier) = (normal(text), normal(earlier))
            return !earlier.isEmpty && (text == earlier || earlier.contains(text))
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
