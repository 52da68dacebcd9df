import ArgumentParser
import CredentialVault
import Foundation
import SendcloudVaultService

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a vault with a passphrase slot and/or a key-file slot.",
        discussion: """
            Every unlock source present becomes a key slot: a key from --key-file, SENDCLOUD_VAULT_KEY_FILE, \
            SENDCLOUD_VAULT_KEY, --key-command or SENDCLOUD_VAULT_KEY_COMMAND (the first of these present); a \
            passphrase from --passphrase-file, SENDCLOUD_VAULT_PASSPHRASE_FILE, SENDCLOUD_VAULT_PASSPHRASE, \
            --passphrase-command or SENDCLOUD_VAULT_PASSPHRASE_COMMAND (likewise); a new random key written to \
            --generate-key-file (mode 0600, never overwritten). With none of these, the passphrase is asked twice \
            on the terminal; without a terminal, init fails (78). The vault file is created 0600 in a 0700 directory. Exits 73 if a vault exists there.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Write a new random vault key (base64) to this file and add a key-file slot for it.",
            valueName: "path"
        )
    )
    var generateKeyFile: String?

    @Option(name: .long, help: "Argon2id strength of the passphrase slot: interactive (default), moderate, sensitive.")
    var kdf: KDFChoice = .interactive

    @Flag(name: .long, help: "Accept a passphrase shorter than 12 characters without asking.")
    var allowWeakPassphrase = false

    /// Whether two spellings of a file path name the same place (made absolute from the working directory and
    /// standardised: `.`, `..` and repeated slashes removed).
    static func samePath(_ one: String, _ other: String) -> Bool {
        URL(fileURLWithPath: one).standardizedFileURL.path == URL(fileURLWithPath: other).standardizedFileURL.path
    }

    func run() async throws {
        let location = try global.vaultLocation()
        let path = location.description
        // Nothing is created until the secrets are known: an existing file or schema is only checked here.
        var store: (any CredentialStore)?
        switch location {
        case .file(let file):
            if FileManager.default.fileExists(atPath: file) {
                store = try await location.openStore(create: true, logger: global.logger)
            }
        case .postgres:
            do {
                store = try await location.openStore(create: false, logger: global.logger)
            } catch let error as VaultError where error.code == .noVault {
                store = nil  // no vault schema yet: created below
            }
        }
        if let store, try await store.header() != nil {
            throw CLIError(
                exitCode: ExitStatus.cannotCreate,
                kind: "vault-exists",
                message: "a vault exists already at \(path)"
            )
        }
        let input = SecretInput()
        var slots: [NewKeySlot] = []
        // `SENDCLOUD_VAULT_KEY_FILE=k init --generate-key-file k` names the file that init is about to write, however
        // each spells the path (`$PWD/k`, `./k`).
        let keyIsBeingGenerated =
            generateKeyFile.map { generated in global.keyFilePath.map { Self.samePath($0, generated) } ?? false }
            ?? false
        if !keyIsBeingGenerated, let key = try global.givenKey(input) { slots.append(.key(key)) }
        if let passphrase = try global.givenPassphrase(input) {
            try PassphraseStrength.check(passphrase, allowWeak: allowWeakPassphrase)
            slots.append(.passphrase(passphrase, kdf.limits))
        }
        if slots.isEmpty && generateKeyFile == nil {
            guard SecretInput.isInteractive else {
                throw CLIError.configuration(
                    "init needs a passphrase or key without a terminal: use --generate-key-file, \(GlobalOptions.unlockSourcesHelp)"
                )
            }
            let passphrase = try SecretInput.prompt("New vault passphrase: ", confirm: true)
            try PassphraseStrength.check(passphrase, allowWeak: allowWeakPassphrase)
            slots.append(.passphrase(passphrase, kdf.limits))
        }
        if let generateKeyFile {
            let key = KeyFileKey.generate()
            try KeyFileWriter.create(key, at: generateKeyFile)
            slots.append(.key(key))
        }
        do {
            let target: any CredentialStore
            if let store {
                target = store
            } else {
                target = try await location.openStore(create: true, logger: global.logger)
            }
            _ = try await CredentialVault.create(in: target, slots: slots, logger: global.logger)
        } catch {
            if let generateKeyFile { unlink(generateKeyFile) }
            throw error
        }
        let kinds = slots.map { slot -> String in
            if case .key = slot { return "key-file" } else { return "passphrase" }
        }
        if global.json {
            Output.printJSON(["vault": path, "slots": kinds, "key_file": generateKeyFile ?? NSNull()] as [String: Any])
        } else {
            print("Created vault \(path) with key slots: \(kinds.joined(separator: ", ")).")
            if let generateKeyFile {
                print("Vault key written to \(generateKeyFile) (keep it private; it unlocks the vault).")
            }
        }
    }
}
