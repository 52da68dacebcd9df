import ArgumentParser
import CredentialVault

struct Passwd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Change the vault passphrase (rewraps the data key only).",
        discussion: """
            Unlock as usual; the new passphrase comes from --new-passphrase-file, SENDCLOUD_VAULT_NEW_PASSPHRASE_FILE, \
            SENDCLOUD_VAULT_NEW_PASSPHRASE, --new-passphrase-command or is asked twice. Changes the slot that \
            unlocked the vault, or the only passphrase slot when unlocked with a key.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var newPassphrase: NewPassphraseOptions

    func run() async throws {
        let input = SecretInput()
        let vault = try await global.openVault(input)
        let passphrase = try newPassphrase.read(input)
        try await vault.changePassphrase(to: passphrase, limits: newPassphrase.kdf.limits)
        if global.json {
            Output.printJSON(["changed": true])
        } else {
            print("Passphrase changed.")
        }
    }
}
