import ArgumentParser

@main
struct SendcloudVault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sendcloud-vault",
        abstract: "Sealed storage for Sendcloud API credentials and OAuth tokens.",
        discussion: """
            Secrets never come from a flag's value: they come from a file (--X-file PATH, '-' for stdin), an \
            environment variable, or a no-echo prompt on a terminal.

            Unlocking, first match wins: --key-file / SENDCLOUD_VAULT_KEY_FILE, SENDCLOUD_VAULT_KEY (base64), \
            --passphrase-file / SENDCLOUD_VAULT_PASSPHRASE_FILE, SENDCLOUD_VAULT_PASSPHRASE, then a prompt.
            """,
        version: "0.1.0",
        subcommands: [
            Init.self, Add.self, Login.self, Token.self, Refresh.self, Show.self, List.self, Remove.self, Verify.self,
            Passwd.self, Key.self, RotateKey.self,
        ]
    )
}
