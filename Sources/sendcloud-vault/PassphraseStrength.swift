import CredentialVault

/// The length rule for a new vault passphrase (`init`, `passwd`, `key add --passphrase`): shorter than
/// ``minimumCharacters`` characters, it is confirmed on a terminal and refused (64) without one, unless
/// `--allow-weak-passphrase`. Argon2id slows guessing, but a short passphrase stays guessable offline by anyone
/// with a copy of the vault.
enum PassphraseStrength {
    static let minimumCharacters = 12

    /// The number of characters (Unicode scalars) in `passphrase`, counted without making a `String` of it.
    static func characters(_ passphrase: SecureBytes) -> Int {
        passphrase.withUnsafeBytes { bytes in bytes.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) } }
    }

    /// Refuses or confirms a short `passphrase` (see the type's description).
    static func check(_ passphrase: SecureBytes, allowWeak: Bool) throws {
        let count = characters(passphrase)
        guard count < minimumCharacters, !allowWeak else { return }
        let what = "the new passphrase has \(count) character(s), fewer than \(minimumCharacters)"
        guard SecretInput.isInteractive else {
            throw CLIError.usage("\(what); choose a longer one, or give --allow-weak-passphrase")
        }
        let answer = try SecretInput.ask(
            "Warning: \(what): anyone with a copy of the vault can guess it offline. Use it anyway? [y/N] "
        )
        guard ["y", "yes"].contains(answer.lowercased()) else {
            throw CLIError(exitCode: ExitStatus.failure, kind: "cancelled", message: "\(what); nothing changed")
        }
    }
}
