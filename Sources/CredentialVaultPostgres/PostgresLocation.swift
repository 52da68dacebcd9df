public import CredentialVault
public import Foundation

/// Where a PostgreSQL vault lives: `postgres://USER@HOST:PORT/DBNAME?sslmode=…&schema=…&sslrootcert=…`
/// (`postgresql://` too), following libpq's conventions (DESIGN §4).
///
/// - The URL must not hold a password: a location is given on the command line, and argv is readable by every local
///   user. The password comes from ``PostgresPassword`` (`SENDCLOUD_VAULT_DATABASE_PASSWORD_FILE`, `PGPASSWORD`,
///   `PGPASSFILE` or `~/.pgpass`). The same rule holds for `SENDCLOUD_VAULT`, so that one location means the same
///   wherever it is written.
/// - Missing parts come from libpq's variables, then its defaults: `PGUSER` (else the login name), `PGHOST` (else
///   `localhost`), `PGPORT` (else 5432), `PGDATABASE` (else the user name).
/// - `schema` (default `sendcloud_vault`): one database can hold several vaults, one per schema. Lower-case letters,
///   digits and `_`, starting with a letter or `_`, at most 63 bytes.
/// - `sslmode`: `disable`, `require` (encrypted, the certificate not checked: libpq's meaning) or `verify-full`
///   (the chain checked against the system roots or `sslrootcert`, and the host name). The default is `verify-full`,
///   except to a loopback host (`localhost`, `127.0.0.0/8`, `::1`), where it is `disable`.
/// - `connect_timeout` (seconds, default 10): how long opening a connection, or waiting for a free one, may take
///   before the database counts as unreachable.
///
/// Anything else in the URL (another parameter, a fragment, a password) is refused with
/// ``VaultError/Code/invalidInput``, so that a typo cannot silently weaken TLS.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    /// How the connection is protected.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// No TLS.
        case disable
        /// TLS, without checking the server's certificate.
        case require
        /// TLS, the certificate checked against the trusted roots and the host name.
        case verifyFull = "verify-full"
    }

    /// The default schema.
    public static let defaultSchema = "sendcloud_vault"

    public private(set) var host: String
    public private(set) var port: Int
    public private(set) var user: String
    public private(set) var database: String
    public private(set) var schema: String
    public private(set) var tlsMode: TLSMode
    /// PEM file of the roots to trust (`sslrootcert`) instead of the system's.
    public private(set) var rootCertificatePath: String?
    /// How long connecting (or waiting for a free pooled connection) may take.
    public private(set) var connectTimeout: Duration

    /// Whether `text` is a location with a URL scheme (`name://`): such a location is never a file path. Only
    /// `postgres://` and `postgresql://` are known; a caller refuses the others.
    public static func hasURLScheme(_ text: String) -> Bool {
        guard let range = text.range(of: "://") else { return false }
        let scheme = text[..<range.lowerBound]
        guard let first = scheme.first, first.isASCII, first.isLetter else { return false }
        return scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }
    }

    /// Whether `text` is meant as a PostgreSQL location: it starts with `postgres:` or `postgresql:` (any case).
    /// `postgres:/host/db` (one slash) is one too — and refused by ``init(url:environment:)`` — so that a typo
    /// cannot turn into a local file under a folder named `postgres:`.
    public static func isPostgresURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres:") || lower.hasPrefix("postgresql:")
    }

    /// Parses `url`; missing parts come from `environment` (libpq's variables), then the defaults.
    /// - Throws: ``VaultError/Code/invalidInput`` for anything malformed or unknown, and for a password in the URL.
    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(VaultError) {
        let lower = url.lowercased()
        guard lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") else {
            throw VaultError(.invalidInput, "not a PostgreSQL location: write postgres://USER@HOST:PORT/DBNAME")
        }
        guard let components = URLComponents(string: url) else {
            throw VaultError(.invalidInput, "the PostgreSQL location is not a valid URL")
        }
        // Checked before anything else, and never echoed.
        if components.password != nil {
            throw VaultError(
                .invalidInput,
                "the vault URL holds a password, and a command line is visible to every local user: put the password "
                    + "in SENDCLOUD_VAULT_DATABASE_PASSWORD_FILE, PGPASSWORD or ~/.pgpass (0600) instead"
            )
        }
        if components.fragment != nil {
            throw VaultError(.invalidInput, "the PostgreSQL location has a '#' fragment, which means nothing here")
        }
        func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let loginName = env("USER") ?? env("LOGNAME") ?? NSUserName()
        user = components.user.flatMap { $0.isEmpty ? nil : $0 } ?? env("PGUSER") ?? loginName
        // A user name holding ':' is a password written percent-encoded ("user%3Apassword"): refused, not echoed.
        guard !user.contains(":") else {
            throw VaultError(
                .invalidInput,
                "the user name in the vault URL holds ':'; a password does not belong in the URL (use "
                    + "SENDCLOUD_VAULT_DATABASE_PASSWORD_FILE, PGPASSWORD or ~/.pgpass)"
            )
        }
        let givenHost = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? env("PGHOST") ?? "localhost"
        // URLComponents keeps the brackets of an IPv6 literal.
        host =
            givenHost.hasPrefix("[") && givenHost.hasSuffix("]") ? String(givenHost.dropFirst().dropLast()) : givenHost
        guard !host.hasPrefix("/") else {
            throw VaultError(.invalidInput, "Unix-domain sockets are not supported: give a host name or address")
        }
        if let port = components.port {
            self.port = port
        } else if let text = env("PGPORT") {
            guard let port = Int(text) else { throw VaultError(.invalidInput, "PGPORT is not a port number") }
            self.port = port
        } else {
            port = 5432
        }
        guard (1...65535).contains(port) else { throw VaultError(.invalidInput, "the port \(port) is out of range") }
        let encodedPath = components.percentEncodedPath
        let path = encodedPath.hasPrefix("/") ? String(encodedPath.dropFirst()) : encodedPath
        guard !path.contains("/") else {
            throw VaultError(.invalidInput, "the PostgreSQL location's path must be just the database name")
        }
        // Decoded once; a malformed escape is refused rather than read as "no database given".
        guard let name = path.removingPercentEncoding else {
            throw VaultError(.invalidInput, "the database name in the PostgreSQL location has a malformed % escape")
        }
        database = name.isEmpty ? env("PGDATABASE") ?? user : name

        var schema = Self.defaultSchema
        var tlsMode: TLSMode?
        var rootCertificatePath: String?
        var connectTimeout = Duration.seconds(10)
        var seen: Set<String> = []
        for item in components.queryItems ?? [] {
            guard seen.insert(item.name).inserted else {
                throw VaultError(.invalidInput, "the PostgreSQL location gives '\(item.name.prefix(40))' twice")
            }
            let value = item.value ?? ""
            switch item.name {
            case "schema":
                schema = value
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw VaultError(
                        .invalidInput,
                        "sslmode must be disable, require or verify-full (\(value.prefix(40)) is not supported)"
                    )
                }
                tlsMode = mode
            case "sslrootcert":
                guard !value.isEmpty else { throw VaultError(.invalidInput, "sslrootcert needs a file path") }
                rootCertificatePath = value
            case "connect_timeout":
                guard let seconds = Int(value), (1...3600).contains(seconds) else {
                    throw VaultError(.invalidInput, "connect_timeout must be a number of seconds from 1 to 3600")
                }
                connectTimeout = .seconds(seconds)
            default:
                throw VaultError(
                    .invalidInput,
                    "unknown parameter '\(item.name.prefix(40))' in the PostgreSQL location "
                        + "(known: schema, sslmode, sslrootcert, connect_timeout)"
                )
            }
        }
        guard Self.isValidSchemaName(schema) else {
            throw VaultError(
                .invalidInput,
                "schema must be 1–63 lower-case letters, digits or '_', starting with a letter or '_' (not pg_)"
            )
        }
        self.schema = schema
        self.rootCertificatePath = rootCertificatePath
        self.connectTimeout = connectTimeout
        let loopback = Self.isLoopback(host)
        self.tlsMode = tlsMode ?? (loopback ? .disable : .verifyFull)
        if self.tlsMode == .verifyFull && Self.isIPAddress(host) {
            throw VaultError(
                .invalidInput,
                "sslmode=verify-full checks the server's certificate against its host name, and \(host) is an IP "
                    + "address: give the host name the certificate was issued for (or sslmode=require, which encrypts "
                    + "without authenticating the server)"
            )
        }
        if rootCertificatePath != nil && self.tlsMode != .verifyFull {
            throw VaultError(.invalidInput, "sslrootcert is used only with sslmode=verify-full")
        }
    }

    /// Whether `host` names this machine's loopback interface.
    public static func isLoopback(_ host: String) -> Bool {
        let lower = host.lowercased()
        if lower == "localhost" || lower == "::1" || lower == "0:0:0:0:0:0:0:1" { return true }
        let parts = lower.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Whether `host` is an IPv4 or IPv6 literal (which TLS cannot use as the server name).
    static func isIPAddress(_ host: String) -> Bool {
        if host.contains(":") { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }

    static func isValidSchemaName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count), let first = bytes.first else { return false }
        func isLetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) }
        func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        guard isLetter(first) || first == UInt8(ascii: "_") else { return false }
        // PostgreSQL reserves the pg_ prefix for its own schemas.
        guard !name.hasPrefix("pg_") else { return false }
        return bytes.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    /// `host:port` as messages name the server (brackets around an IPv6 address).
    public var endpoint: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The location as a URL without secrets (there are none in it): `postgres://user@host:port/db?schema=…`.
    public var description: String {
        var text = "postgres://\(user)@\(endpoint)/\(database)?schema=\(schema)&sslmode=\(tlsMode.rawValue)"
        if let rootCertificatePath { text += "&sslrootcert=\(rootCertificatePath)" }
        return text
    }
}
