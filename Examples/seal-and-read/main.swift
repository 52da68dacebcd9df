// Seals an account's secrets into a fresh SQLite vault and reads them back through the library.
//
//     swift run seal-and-read [/path/to/new/vault.sqlite]
//
// The vault key is generated here and kept only in memory; a real embedder keeps it in a key file
// (see `sendcloud-vault init --generate-key-file`) or unlocks with a passphrase.
import CredentialVault
import CredentialVaultSQLite
import Foundation
import Logging

let path =
    CommandLine.arguments.dropFirst().first
    ?? FileManager.default.temporaryDirectory.appendingPathComponent("seal-and-read-\(UUID().uuidString)/vault.sqlite")
    .path
let logger = Logger(label: "seal-and-read")

let key = KeyFileKey.generate()
let store = try SQLiteCredentialStore(path: path, create: true)
let vault = try await CredentialVault.create(in: store, slots: [.key(key)], logger: logger)

let account = Account(
    name: "acme-shop",
    mode: .clientCredentials,
    clientID: "public-key-123",
    tokenURL: "https://account.sendcloud.com/oauth2/token"
)
try await vault.addAccount(account, secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "secret-key-456")))

// Later, maybe in another process: open the same file with the same key.
let reopened = try await CredentialVault.open(SQLiteCredentialStore(path: path), with: .key(key), logger: logger)
let (stored, secrets) = try await reopened.openAccount(named: "acme-shop")
let matches = secrets.clientSecret == SecureBytes(utf8: "secret-key-456")
print("vault:", path)
print("account:", stored.name, stored.mode.rawValue, "client id:", stored.clientID, "generation:", stored.generation)
print("secrets:", secrets)  // prints field names, never values
print("client secret round-trips:", matches)
if !matches { exit(1) }
