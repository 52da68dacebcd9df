/// Usage errors that argument-parser reports too vaguely: a secret given as a flag's value (`--client-secret
/// VALUE`), which must point to the file option and warn that the value is now in the shell's history, and an
/// unknown subcommand, which gets the nearest one (`tokn` → `token`).
enum UsageHints {
    /// Flags that people type expecting them to take a secret, and where the secret comes from instead.
    static let secretFlags: [String: String] = [
        "--client-secret": "--client-secret-file PATH ('-' for stdin), SENDCLOUD_CLIENT_SECRET or the prompt",
        "--refresh-token": "--refresh-token-file PATH ('-' for stdin) or SENDCLOUD_REFRESH_TOKEN",
        "--passphrase": "--passphrase-file PATH ('-' for stdin), SENDCLOUD_VAULT_PASSPHRASE or the prompt",
        "--key": "--key-file PATH or SENDCLOUD_VAULT_KEY",
        "--new-passphrase": "--new-passphrase-file PATH, SENDCLOUD_VAULT_NEW_PASSPHRASE or the prompt",
        "--backup-passphrase": "--backup-passphrase-file PATH, SENDCLOUD_VAULT_BACKUP_PASSPHRASE or the prompt",
        "--access-token":
            "nowhere: access tokens are obtained by 'token' and 'refresh', or imported (import --plaintext-json)",
    ]

    /// The message for the first argument that gives a secret as a flag's value, if any (`--` ends the options).
    static func secretFlagMessage(_ arguments: [String]) -> String? {
        for argument in arguments.prefix(while: { $0 != "--" }) {
            let flag = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            guard let instead = secretFlags[flag] else { continue }
            // `key add --passphrase` is a real flag (it takes no value): add a passphrase slot.
            if flag == "--passphrase" && arguments.starts(with: ["key", "add"]) && !argument.contains("=") { continue }
            return "\(flag) does not exist: a secret on the command line is visible to every local user (argv, "
                + "/proc) and stays in your shell's history. Use \(instead). If you typed the secret, remove it from "
                + "the history (history -d, or edit ~/.bash_history) and consider rotating it."
        }
        return nil
    }

    /// For an unknown subcommand (the first argument, when it is not an option): the message naming the nearest
    /// one, or `nil` when `arguments` starts with a known one, an option, or nothing.
    static func unknownCommandMessage(_ arguments: [String], commands: [String]) -> String? {
        guard let first = arguments.first, !first.hasPrefix("-"), !commands.contains(first), first != "help" else {
            return nil
        }
        let nearest = commands.map { ($0, distance(first, $0)) }.min { $0.1 < $1.1 }
        var message = "unknown command '\(Output.inert(String(first.prefix(40))))'"
        if let (name, cost) = nearest, cost <= max(2, name.count / 3) { message += ". Did you mean '\(name)'?" }
        return message + " ('sendcloud-vault --help' lists the commands)"
    }

    /// Levenshtein distance (insertions, deletions, substitutions), on Unicode scalars.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars.prefix(64))
        let b = Array(b.unicodeScalars)
        var previous = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(1, b.count) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
