public import CredentialVault
public import Foundation

/// Where the database password of a ``PostgresLocation`` comes from — never from the location itself.
///
/// The first source present is the only one used:
/// 1. `SENDCLOUD_VAULT_DATABASE_PASSWORD_FILE`: a file holding only the password (one trailing newline allowed),
///    mode 0600 or stricter. It comes first because it is set for this tool alone, while the libpq variables below
///    may be in the environment for other programs.
/// 2. `PGPASSWORD`.
/// 3. `PGPASSFILE`, else `~/.pgpass`, if it exists: libpq's password file, lines of
///    `hostname:port:database:username:password` (`*` matches anything; `\:` and `\\` escape), the first matching
///    line wins. It must be 0600 or stricter (libpq only warns; here a readable password file is refused with
///    ``VaultError/Code/unsafePermissions``).
///
/// No source, or no matching line: no password (the server may not ask for one; if it does, connecting fails with
/// ``VaultError/Code/accessDenied``).
///
/// postgres-nio takes the password as a `String`, which Swift cannot wipe: it lives in this process's memory for as
/// long as the store does.
public enum PostgresPassword {
    /// The password file variable of this tool.
    public static let fileVariable = "SENDCLOUD_VAULT_DATABASE_PASSWORD_FILE"

    /// The password for `location`, from the first source present in `environment`.
    /// - Throws: ``VaultError``: ``VaultError/Code/unsafePermissions`` for a password file that group or others may
    ///   access, ``VaultError/Code/accessDenied`` for a password file that cannot be read, ``VaultError/Code/invalidInput``
    ///   for an empty one.
    public static func resolve(
        for location: PostgresLocation,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(VaultError) -> String? {
        func env(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let path = env(fileVariable) {
            let secret: SecureBytes
            do {
                secret = try VaultUnlockSource.readSecretFile(path, what: "database password", requirePrivate: true)
            } catch let error where error.code == .notFound {
                // A configuration problem (78), not a missing vault (66).
                throw VaultError(.accessDenied, error.message)
            }
            guard let password = secret.unsafeStringValue() else {
                throw VaultError(.invalidInput, "the database password file \(path) is not UTF-8 text")
            }
            return password
        }
        if let password = env("PGPASSWORD") { return password }
        let passfile: String
        if let path = env("PGPASSFILE") {
            passfile = path
        } else {
            let home = env("HOME") ?? NSHomeDirectory()
            passfile = home + "/.pgpass"
            guard FileManager.default.fileExists(atPath: passfile) else { return nil }
        }
        if passfile == "-" { throw VaultError(.invalidInput, "PGPASSFILE must name a file") }
        // Like libpq: a password file that does not exist gives no password (the server may not ask for one).
        guard FileManager.default.fileExists(atPath: passfile) else { return nil }
        let contents = try VaultUnlockSource.readSecretFile(passfile, what: "pgpass", requirePrivate: true)
        guard let text = contents.unsafeStringValue() else {
            throw VaultError(.invalidInput, "the password file \(passfile) is not UTF-8 text")
        }
        return password(in: text, for: location)
    }

    /// The password of the first line of a pgpass file's `text` that matches `location`, or `nil`.
    static func password(in text: String, for location: PostgresLocation) -> String? {
        let wanted = [location.host, String(location.port), location.database, location.user]
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            if line.hasPrefix("#") { continue }
            let fields = split(line)
            // libpq reads the password up to the next unescaped ':' and ignores the rest.
            guard fields.count >= 5 else { continue }
            let matches = zip(fields.prefix(4), wanted).allSatisfy { field, value in field == "*" || field == value }
            if matches { return fields[4] }
        }
        return nil
    }

    /// Splits one pgpass line at unescaped `:`, removing the escapes.
    private static func split(_ line: Substring) -> [String] {
        var fields: [String] = []
        var current = ""
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}
