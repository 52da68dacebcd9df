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
    }

    /// The unlock secret from a swift-configuration reader, with the CLI's order and checks: the first key present is
    /// the only one tried — a key file, a key, a passphrase file, a passphrase (``ConfigurationKey``). Files get
    /// ``secret()``'s checks (a regular file, mode & 077 == 0, size, no NUL). `nil` when none is set.
    ///
    /// The key and the passphrase are read with `isSecret: true`, so swift-configuration's access logs and
    /// descriptions redact them; a provider hands values over as `String`, which this copies into ``SecureBytes`` at
    /// once. A file source keeps the secret out of any `String`: prefer `key_file`.
    /// - Throws: ``VaultError`` as ``secret()`` does (``VaultError/Code/wrongKey`` for a key that is not base64 of 32
    ///   bytes).
    public static func secret(from config: ConfigReader) throws(VaultError) -> UnlockSecret? {
        if let path = nonEmpty(config.string(forKey: ConfigKey(ConfigurationKey.keyFile))) {
            return try VaultUnlockSource.keyFile(path: path).secret()
        }
        if let text = nonEmpty(config.string(forKey: ConfigKey(ConfigurationKey.key), isSecret: true)) {
            do { return .key(try KeyFileKey(base64Text: SecureBytes(utf8: text))) } catch {
                throw VaultError(.wrongKey, "\(ConfigurationKey.key) does not hold a vault key (base64 of 32 bytes)")
            }
        }
        if let path = nonEmpty(config.string(forKey: ConfigKey(ConfigurationKey.passphraseFile))) {
            return try VaultUnlockSource.passphraseFile(path: path).secret()
        }
        if let text = nonEmpty(config.string(forKey: ConfigKey(ConfigurationKey.passphrase), isSecret: true)) {
            return .passphrase(SecureBytes(utf8: text))
        }
        return nil
    }

    private static func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }
}
