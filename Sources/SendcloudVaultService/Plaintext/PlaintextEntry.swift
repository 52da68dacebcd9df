public import CredentialVault
import Foundation
import SendcloudOAuth

/// One entry of a plaintext token list — what many integrations keep today, and what `sendcloud-vault import
/// --plaintext-json` and the `migrate-plaintext` example seal into a vault — as read, before validation.
///
/// The fields (DESIGN §6): `name`, `client_id`, `client_secret` (required); `refresh_token`, `access_token`,
/// `expires_at` (the access token's: ISO 8601 or Unix seconds), `scope`, `token_url`, `mode` (optional; the mode
/// defaults to `refresh-token` when a refresh token is given, else `client-credentials`). ``validated(defaultTokenURL:)``
/// turns an entry into an ``ImportedAccount`` or a ``Problem`` that names the entry and the field, never a value.
public struct PlaintextEntry: Sendable {
    /// A field's value as the source holds it.
    public enum Value: Sendable {
        case text(String)
        case bytes([UInt8])
        case number(Double)
        /// Something no field accepts (a JSON object, array or boolean).
        case other
    }

    /// The fields of an entry, in the order messages name them.
    public static let fields = [
        "name", "mode", "client_id", "client_secret", "refresh_token", "access_token", "expires_at", "scope",
        "token_url",
    ]

    /// The entry's position in the source, from 1.
    public var index: Int
    /// The values of the fields present (absent and null fields are left out).
    public var values: [String: Value]
    /// How many keys the entry has that are not ``fields``. Their names are not kept: they are not echoed, in case a
    /// value landed in a key.
    public var unknownKeys: Int

    /// The longest secret accepted (a client secret, refresh or access token).
    public static let maximumSecretLength = 16 * 1024

    /// Creates an entry.
    public init(index: Int, values: [String: Value] = [:], unknownKeys: Int = 0) {
        self.index = index
        self.values = values
        self.unknownKeys = unknownKeys
    }

    /// What is wrong with an entry: its index, its name if the name is valid, and which field — never a value.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        /// The entry's position, from 1.
        public var index: Int
        /// The entry's name, when it is a valid account name.
        public var name: AccountName?
        /// What is wrong, naming fields only.
        public var message: String

        /// Creates a problem.
        public init(index: Int, name: AccountName? = nil, message: String) {
            self.index = index
            self.name = name
            self.message = message
        }

        /// `entry 4 ('acme'): client_secret is missing or empty`.
        public var description: String { "entry \(index)\(name.map { " ('\($0)')" } ?? ""): \(message)" }
    }

    /// The entry validated: the account to store (status `ok`, generation 1) and its secrets, with a note for the
    /// summary (say, an access token left out), free of secrets.
    public struct Validated: Sendable {
        /// The account and its secrets.
        public var imported: ImportedAccount
        /// The entry's position, from 1.
        public var index: Int
        /// A note for the summary, free of secrets.
        public var note: String?
    }

    /// Validates the entry, or throws the first problem found. `defaultTokenURL` is used when the entry names none;
    /// every token URL must pass ``TokenURLPolicy`` (https, or http to a loopback host). An access token without
    /// `expires_at` is left out (a token of unknown expiry is never used), with a note.
    public func validated(defaultTokenURL: String) throws(Problem) -> Validated {
        guard case .text(let rawName)? = values["name"], let name = try? AccountName(rawName) else {
            throw Problem(
                index: index,
                message: values["name"] == nil
                    ? "name is missing"
                    : "name is not a valid account name (1-128 of A-Z a-z 0-9 . _ - @, starting with a letter or digit)"
            )
        }
        func problem(_ text: String) -> Problem { Problem(index: index, name: name, message: text) }
        guard unknownKeys == 0 else {
            throw problem("has \(unknownKeys) unknown field(s); the fields are \(Self.fields.joined(separator: ", "))")
        }
        func text(_ field: String) throws(Problem) -> String? {
            switch values[field] {
            case nil: return nil
            case .text(let value): return value.isEmpty ? nil : value
            case .bytes(let bytes):
                guard let value = String(validating: bytes, as: UTF8.self) else {
                    throw problem("\(field) is not UTF-8 text")
                }
                return value.isEmpty ? nil : value
            case .number, .other: throw problem("\(field) is not text")
            }
        }
        func secret(_ field: String) throws(Problem) -> SecureBytes? {
            let value: SecureBytes
            switch values[field] {
            case nil: return nil
            case .text(let text): value = SecureBytes(utf8: text)
            case .bytes(let bytes): value = bytes.withUnsafeBytes { SecureBytes(copying: $0) }
            case .number, .other: throw problem("\(field) is not text")
            }
            if value.isEmpty { return nil }
            guard !value.contains(byte: 0) else { throw problem("\(field) contains a NUL byte") }
            guard value.count <= Self.maximumSecretLength else { throw problem("\(field) is longer than 16 KiB") }
            return value
        }

        guard let clientID = try text("client_id") else { throw problem("client_id is missing or empty") }
        guard clientID.utf8.count <= 4096, !clientID.unicodeScalars.contains(where: Self.isControl) else {
            throw problem("client_id is longer than 4096 bytes or holds a control character")
        }
        guard let clientSecret = try secret("client_secret") else {
            throw problem("client_secret is missing or empty")
        }
        let refreshToken = try secret("refresh_token")
        var accessToken = try secret("access_token")
        for (field, token) in [("refresh_token", refreshToken), ("access_token", accessToken)] {
            if let token, !TokenSyntax.isB64Token(token) {
                throw problem("\(field) has characters a token cannot have (RFC 6750 b64token)")
            }
        }
        let expiresAt = try expiry(name)
        let tokenURL = try text("token_url") ?? defaultTokenURL
        do {
            try TokenURLPolicy.validate(tokenURL)
        } catch {
            throw problem("token_url is refused: \(error.message)")
        }
        let scope = try text("scope")
        if let scope, !TokenSyntax.isScope(scope) {
            throw problem("scope is not a space-separated list of OAuth scope tokens")
        }
        let mode: AccountMode
        if let given = try text("mode") {
            guard let parsed = AccountMode(rawValue: given) else {
                throw problem("mode must be client-credentials, refresh-token or basic")
            }
            mode = parsed
        } else {
            mode = refreshToken == nil ? .clientCredentials : .refreshToken
        }
        switch mode {
        case .refreshToken where refreshToken == nil:
            throw problem("mode is refresh-token but refresh_token is missing or empty")
        case .basic where refreshToken != nil || accessToken != nil:
            throw problem("mode is basic (the API key pair), which holds no refresh_token or access_token")
        case .clientCredentials where refreshToken != nil:
            throw problem("mode is client-credentials, which uses no refresh_token")
        default:
            break
        }
        var note: String?
        if accessToken != nil, expiresAt == nil {
            accessToken = nil
            note = "access token without expires_at left out (a new one is obtained on first use)"
        }
        if expiresAt != nil, accessToken == nil, note == nil {
            throw problem("expires_at is given without access_token")
        }
        let account = Account(
            name: name,
            mode: mode,
            clientID: clientID,
            scopes: scope,
            tokenURL: tokenURL,
            accessTokenExpiresAt: accessToken == nil ? nil : expiresAt,
            generation: 1
        )
        return Validated(
            imported: ImportedAccount(
                account: account,
                secrets: AccountSecrets(
                    clientSecret: clientSecret,
                    refreshToken: refreshToken,
                    accessToken: accessToken
                )
            ),
            index: index,
            note: note
        )
    }

    /// `expires_at`: ISO 8601 text (`2026-05-01T12:00:00Z`, fractions allowed) or Unix seconds (a number, or digits
    /// as text).
    private func expiry(_ name: AccountName) throws(Problem) -> Date? {
        func problem(_ text: String) -> Problem { Problem(index: index, name: name, message: "expires_at \(text)") }
        let seconds: Double
        switch values["expires_at"] {
        case nil: return nil
        case .number(let value): seconds = value
        case .text(let text) where text.isEmpty: return nil
        case .text(let text):
            if let value = Double(text) {
                seconds = value
            } else if let date = Self.iso8601(text) {
                return date
            } else {
                throw problem("is neither ISO 8601 (2026-05-01T12:00:00Z) nor Unix seconds")
            }
        case .bytes, .other: throw problem("is not a date")
        }
        guard seconds.isFinite, (0...253_402_300_799).contains(seconds) else { throw problem("is out of range") }
        return Date(timeIntervalSince1970: seconds)
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    private static func iso8601(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
