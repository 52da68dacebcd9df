import ArgumentParser
import CredentialVault
import CredentialVaultPostgres
import Foundation
import Logging
import SendcloudOAuth
import SendcloudVaultService

/// Seals a plaintext token table into a vault (README.md beside this file).
///
/// Every row is validated, and every name checked against the vault, before anything is written; a problem in any
/// row stores nothing. Output and errors name rows, accounts and fields, never a secret's value.
@main
struct MigratePlaintext: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-plaintext",
        abstract: "Seal a plaintext table of Sendcloud credentials and tokens into a vault.",
        discussion: """
            The rows have the fields of sendcloud-vault import --plaintext-json: name, client_id, client_secret, \
            and optionally refresh_token, access_token, expires_at (the access token's; ISO 8601 or Unix seconds), \
            token_url, mode (client-credentials, refresh-token or basic; default refresh-token when a refresh_token \
            is given, else client-credentials) and scope: as a JSON array of objects (--json FILE), or as the columns \
            of a SQLite table (--sqlite FILE --table NAME; other columns are ignored). All rows are stored in one \
            transaction, or none.

            The vault must exist (sendcloud-vault init) and is found and unlocked as by the sendcloud-vault CLI: \
            --vault or SENDCLOUD_VAULT; --key-file, SENDCLOUD_VAULT_KEY_FILE, SENDCLOUD_VAULT_KEY, \
            --passphrase-file, SENDCLOUD_VAULT_PASSPHRASE_FILE or SENDCLOUD_VAULT_PASSPHRASE.

            Stop the system that uses the plaintext tokens first: once the vault refreshes a refresh token, the \
            copy in the plaintext table is spent, and using it again makes Sendcloud revoke the authorization.
            """
    )

    @Option(name: .customLong("json"), help: ArgumentHelp("A JSON file: an array of row objects.", valueName: "file"))
    var jsonFile: String?

    @Option(name: .customLong("sqlite"), help: ArgumentHelp("A SQLite database file.", valueName: "file"))
    var sqliteFile: String?

    @Option(help: ArgumentHelp("The table of --sqlite.", valueName: "name"))
    var table: String?

    @Option(help: ArgumentHelp("The vault (env SENDCLOUD_VAULT): a file or a postgres:// URL.", valueName: "location"))
    var vault: String?

    @Option(help: ArgumentHelp("Unlock with the key in this file (mode 0600).", valueName: "path"))
    var keyFile: String?

    @Option(help: ArgumentHelp("Unlock with the passphrase in this file (mode 0600).", valueName: "path"))
    var passphraseFile: String?

    @Option(help: ArgumentHelp("The token URL of rows that name none.", valueName: "url"))
    var tokenURL = TokenURLPolicy.sendcloudTokenURL

    @Flag(help: "Replace accounts that exist in the vault already (else such a row is a problem).")
    var replace = false

    @Flag(help: "Validate and check against the vault, write nothing.")
    var dryRun = false

    func validate() throws {
        switch (jsonFile, sqliteFile, table) {
        case (.some, nil, nil), (nil, .some, .some): break
        case (nil, .some, nil): throw ValidationError("--sqlite needs --table")
        case (.some, nil, .some): throw ValidationError("--table goes with --sqlite, not --json")
        default: throw ValidationError("give --json FILE, or --sqlite FILE --table NAME")
        }
    }

    func run() async throws {
        var logger = Logger(label: "migrate-plaintext") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        let source: PlaintextSource =
            if let jsonFile { .json(path: jsonFile) } else { .sqlite(path: sqliteFile!, table: table!) }
        do {
            try await Migration(source: source, replace: replace, dryRun: dryRun, defaultTokenURL: tokenURL)
                .run(opening: vaultLocation(), unlock: unlockSecret(), logger: logger)
        } catch let failure as Migration.Failure {
            Self.report(failure.message)
            throw ExitCode(failure.exitCode)
        } catch let error as PlaintextSource.ReadError {
            Self.report("\(error); nothing was stored")
            throw ExitCode(66)
        } catch let error as VaultError {
            Self.report("\(error.message); nothing was stored")
            throw ExitCode(Self.exitCode(for: error.code))
        }
    }

    private func vaultLocation() throws -> VaultLocation {
        if let vault { return try VaultLocation(vault) }
        return try VaultLocation.fromEnvironment()
    }

    private func unlockSecret() throws -> UnlockSecret {
        guard let source = VaultUnlockSource.first(keyFile: keyFile, passphraseFile: passphraseFile) else {
            throw Migration.Failure(
                message: "no way to unlock the vault: use \(VaultUnlockSource.sourcesDescription)",
                exitCode: 78
            )
        }
        return try source.secret()
    }

    static func report(_ message: String) {
        FileHandle.standardError.write(Data("migrate-plaintext: \(message)\n".utf8))
    }

    /// DESIGN §6's exit codes, as the CLI uses them.
    static func exitCode(for code: VaultError.Code) -> Int32 {
        switch code {
        case .wrongKey: 77
        case .integrityFailure: 65
        case .notFound, .noVault: 66
        case .alreadyExists: 73
        case .unsafePermissions, .accessDenied: 78
        case .invalidInput: 64
        case .conflict, .lockTimeout, .unavailable: 75
        default: 1
        }
    }
}
