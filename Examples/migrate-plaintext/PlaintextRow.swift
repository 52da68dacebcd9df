import CredentialVault
import Foundation
import SendcloudOAuth

/// One row of a plaintext token table as read, before validation: each field is text, bytes, a number or absent.
struct PlaintextRow {
    /// A field's value as the source holds it.
    enum Value {
        case text(String)
        case bytes([UInt8])
        case number(Double)
        /// Something no field accepts (a JSON object, array or boolean).
        case other
    }

    /// The row's position in the source, from 1.
    var position: Int
    var values: [String: Value]
    /// How many keys the row has that are not fields of ``fields`` (JSON only; a SQLite table's other columns are
    /// ignored). Their names are not kept: they are not echoed, in case a value landed in a key.
    var unknownKeys = 0

    /// The fields of the plaintext shape, in the order help texts name them.
    static let fields = [
        "name", "client_id", "client_secret", "refresh_token", "access_token", "access_token_expires_at", "token_url",
        "mode", "scopes",
    ]
}

/// A row that validated: the account to store and its secrets.
struct ValidatedRow {
    var position: Int
    var account: Account
    var secrets: AccountSecrets
    /// A note for the summary (say, an access token left out), free of secrets.
    var note: String?
}

/// What is wrong with a row: its position, its name if the name is valid, and which field — never a value.
struct RowProblem: Error, CustomStringConvertible {
    var position: Int
    var name: AccountName?
    var problem: String

    var description: String {
        "row \(position)\(name.map { " ('\($0)')" } ?? ""): \(problem)"
    }
}

extension PlaintextRow {
    /// Validates the row into an account and its secrets, or the first problem found. `defaultTokenURL` is used when
    /// the row names none. Messages name fields, never their values.
    func validated(defaultTokenURL: String) throws(RowProblem) -> ValidatedRow {
        guard case .text(let rawName)? = values["name"], let name = try? AccountName(rawName) else {
            throw RowProblem(
                position: position,
                problem: values["name"] == nil
                    ? "name is missing"
                    : "name is not a valid account name (1-128 of A-Z a-z 0-9 . _ - @, starting with a letter or digit)"
            )
        }
        func problem(_ text: String) -> RowProblem { RowProblem(position: position, name: name, problem: text) }
        guard unknownKeys == 0 else {
            throw problem(
                "has \(unknownKeys) unknown field(s); the fields are \(Self.fields.joined(separator: ", "))"
            )
        }
        func text(_ field: String) throws(RowProblem) -> String? {
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
        func secret(_ field: String) throws(RowProblem) -> SecureBytes? {
            let value: SecureBytes
            switch values[field] {
            case nil: return nil
            case .text(let text): value = SecureBytes(utf8: text)
            case .bytes(let bytes): value = bytes.withUnsafeBytes { SecureBytes(copying: $0) }
            case .number, .other: throw problem("\(field) is not text")
            }
            if value.isEmpty { return nil }
            guard !value.contains(byte: 0) else { throw problem("\(field) contains a NUL byte") }
            guard value.count <= 16 * 1024 else { throw problem("\(field) is longer than 16 KiB") }
            return value
        }

        guard let clientID = try text("client_id") else { throw problem("client_id is missing or empty") }
        guard clientID.utf8.count <= 4096, !clientID.contains(where: \.isNewline) else {
            throw problem("client_id is longer than 4096 bytes or holds a line break")
        }
        guard let clientSecret = try secret("client_secret") else {
            throw problem("client_secret is missing or empty")
        }
        let refreshToken = try secret("refresh_token")
        var accessToken = try secret("access_token")
        let expiresAt = try expiry()
        let tokenURL = try text("token_url") ?? defaultTokenURL
        do {
            try TokenURLPolicy.validate(tokenURL)
        } catch {
            throw problem("token_url is refused: \(error.message)")
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
            // A token of unknown expiry is never used (the provider obtains a new one): do not store it.
            accessToken = nil
            note = "access token without access_token_expires_at left out (a new one is obtained on first use)"
        }
        if expiresAt != nil, accessToken == nil, note == nil {
            throw problem("access_token_expires_at is given without access_token")
        }
        return ValidatedRow(
            position: position,
            account: Account(
                name: name,
                mode: mode,
                clientID: clientID,
                scopes: try text("scopes"),
                tokenURL: tokenURL,
                accessTokenExpiresAt: accessToken == nil ? nil : expiresAt
            ),
            secrets: AccountSecrets(clientSecret: clientSecret, refreshToken: refreshToken, accessToken: accessToken),
            note: note
        )
    }

    /// `access_token_expires_at`: ISO 8601 text (`2026-05-01T12:00:00Z`, fractions allowed) or Unix seconds (a
    /// number, or digits as text).
    private func expiry() throws(RowProblem) -> Date? {
        let field = "access_token_expires_at"
        let seconds: Double
        switch values[field] {
        case nil:
            return nil
        case .number(let value):
            seconds = value
        case .text(let text) where text.isEmpty:
            return nil
        case .text(let text):
            if let value = Double(text) {
                seconds = value
            } else if let date = Self.iso8601(text) {
                return date
            } else {
                throw RowProblem(
                    position: position,
                    name: try? AccountName(valueText("name") ?? ""),
                    problem: "\(field) is neither ISO 8601 (2026-05-01T12:00:00Z) nor Unix seconds"
                )
            }
        case .bytes, .other:
            throw RowProblem(
                position: position,
                name: try? AccountName(valueText("name") ?? ""),
                problem: "\(field) is not a date"
            )
        }
        guard seconds.isFinite, (0...253_402_300_799).contains(seconds) else {
            throw RowProblem(
                position: position,
                name: try? AccountName(valueText("name") ?? ""),
                problem: "\(field) is out of range"
            )
        }
        return Date(timeIntervalSince1970: seconds)
    }

    private func valueText(_ field: String) -> String? {
        if case .text(let text)? = values[field] { return text }
        return nil
    }

    private static func iso8601(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}
