import ArgumentParser

/// The root command. Every command names itself (`commandName:`): argument-parser's default, the type's name through
/// `String(describing:)`, costs a scan of every protocol conformance in the binary per command at each start-up
/// (BENCHMARKS.md, "The CLI, whole process").
@main
struct SendcloudVault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sendcloud-vault",
        abstract: "Sealed storage for Sendcloud API credentials and OAuth tokens.",
        discussion: """
            Secrets never come from a flag's value: they come from a file (--X-file PATH, '-' for stdin), an \
            environment variable, or a no-echo prompt on a terminal.

            Unlocking: a flag beats every variable; among flags, and among variables, first match wins: --key-file / SENDCLOUD_VAULT_KEY_FILE, SENDCLOUD_VAULT_KEY (base64), \
            --key-command / SENDCLOUD_VAULT_KEY_COMMAND, --passphrase-file / SENDCLOUD_VAULT_PASSPHRASE_FILE, \
            SENDCLOUD_VAULT_PASSPHRASE, --passphrase-command / SENDCLOUD_VAULT_PASSPHRASE_COMMAND, then a prompt. \
            A command runs with /bin/sh -c, stdin closed, and prints the key (base64) or the passphrase; one that \
            fails, prints nothing or runs longer than 30 s (SENDCLOUD_VAULT_COMMAND_TIMEOUT seconds) exits 77 \
            with its stderr summarised.

            Library log lines appear only with --verbose or SENDCLOUD_VAULT_LOG=LEVEL; a failure is reported once, \
            with what to do next. Scripts: 'hdr=$(sendcloud-vault token NAME --header) || exit', then \
            'printf "%s\\n" "$hdr" | curl -H @- URL' — not 'token NAME --header | curl -H @- URL', which sends the \
            request without authorization when token fails (a pipe's status is its last command's).

            """ + ExitStatus.tableText,
        version: "0.1.0",
        subcommands: [
            Init.self, Add.self, Login.self, Token.self, Refresh.self, Show.self, List.self, Update.self, Remove.self,
            Verify.self,
            Passwd.self, Key.self, RotateKey.self, Export.self, Import.self,
        ]
    )
}
