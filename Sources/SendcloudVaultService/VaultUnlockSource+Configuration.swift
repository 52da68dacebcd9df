public import Configuration
public import CredentialVault

extension VaultUnlockSource {
    /// The configuration keys of ``secret(from:)``, in the order they are tried. With swift-configuration's
    /// `EnvironmentVariablesProvider` they are the CLI's variables (`sendcloud_vault.key_file` is
    /// `SENDCLOUD_VAULT_KEY_FILE`, and so on).
    public enum ConfigurationKey {
        /// `sendcloud_vault.key_file`: the path of a key file (checked as the CLI checks `--key-file`).
        public static let keyFile = "sendcloud_vault.key_file"
        /// `sendcloud_vault.key`: the base64 key itself (read as a secret).
        public static let key = "sendcloud_vault.key"
        /// `sendcloud_vault.passphrase_file`: the path of a passphrase file.
        public static let passphraseFile = "sendcloud_vault.passphrase_file"
        /// `sendcloud_vault.passphrase`: the passphrase itself (read as a secret).
        public static let passphrase = "sendcloud_vault.passphrase"
        /// `sendcloud_vault.key_command`: a command (run with `/bin/sh -c`) that prints the base64 key
        /// (``SecretCommand``).
        public static let keyCommand = "sendcloud_vault.key_command"
        /// `sendcloud_vault.passphrase_command`: a command (run with `/bin/sh -c`) that prints the passphrase.
        public static let passphraseCommand = "sendcloud_vault.passphrase_command"
        /// `sendcloud_vault.command_timeout`: whole seconds (1–3600) a key or passphrase command may run; default
        /// ``SecretCommand/defaultTimeout``.
        public static let commandTimeout = "sendcloud_vault.command_timeout"
    }

    /// The unlock secret from a swift-configuration reader, with the CLI's order and checks: the first key present is
    /// the only one tried — a key file, a key, a key command, a passphrase file, a passphrase, a passphrase command
    /// (``ConfigurationKey``). Files get ``secret()``'s checks (a regular file, mode & 077 == 0, size, no NUL);
    /// commands run as ``SecretCommand`` describes, for at most `command_timeout` seconds (an out-of-range value is
    /// ``VaultError/Code/invalidInput``). `nil` when none is set.
    ///
    /// The key and the passphrase are read with `isSecret: true`, so swift-configuration's access logs and
    /// descriptions redact them; a provider hands values over as `String`, which this copies into ``SecureBytes`` at
    /// once. A file source keeps the secret out of any `String`: prefer `key_file`.
    /// - Throws: ``VaultError`` as ``secret()`` does (``VaultError/Code/wrongKey`` for a key that is not base64 of 32
    ///   bytes, ``VaultError/Code/secretCommandFailed`` for a failed command).
    public static func secret(from config: ConfigReader) throws(VaultError) -> UnlockSecret? {
        if let path = nonEmpty(config.string(forKey: ConfigKey(ConfigurationKey.keyFile))) {
            return try VaultUnlockSource.keyFile(path: path).secret()
        }
        if let text = nonEmpty(config.string(forKey: ConfigKey(ConfigurationKey.key), isSecret: true)) {
            do { return .key(try KeyFileKey(base64Text: SecureBytes(utf8: text))) } catch {
                throw VaultError(.wrongKey, "\(ConfigurationKey.key) does not hold a vault key (base64 of 32 bytes)")
            }
        }
        if let command = nonEmpty(config.string(forKey: ConfigKey(ConfigurationKey.keyCommand))) {
            return try VaultUnlockSource.keyCommand(
                SecretCommand(command, origin: ConfigurationKey.keyCommand, timeout: try commandTimeout(config))
            ).secret()
        }
        if let path = nonEmpty(config.string(forKey: ConfigKey(ConfigurationKey.passphraseFile))) {
            return try VaultUnlockSource.passphraseFile(path: path).secret()
        }
        if let text = nonEmpty(config.string(forKey: ConfigKey(ConfigurationKey.passphrase), isSecret: true)) {
            return .passphrase(SecureBytes(utf8: text))
        }
        if let command = nonEmpty(config.string(forKey: ConfigKey(ConfigurationKey.passphraseCommand))) {
            return try VaultUnlockSource.passphraseCommand(
                SecretCommand(command, origin: ConfigurationKey.passphraseCommand, timeout: try commandTimeout(config))
            ).secret()
        }
        return nil
    }

    /// `command_timeout` in seconds (1–3600), else ``SecretCommand/defaultTimeout``.
    private static func commandTimeout(_ config: ConfigReader) throws(VaultError) -> Duration {
        guard let seconds = config.int(forKey: ConfigKey(ConfigurationKey.commandTimeout)) else {
            return SecretCommand.defaultTimeout
        }
        guard (1...3600).contains(seconds) else {
            throw VaultError(.invalidInput, "\(ConfigurationKey.commandTimeout) must be 1 to 3600 seconds")
        }
        return .seconds(seconds)
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}
