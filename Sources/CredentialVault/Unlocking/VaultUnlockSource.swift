#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the secret that unlocks a vault comes from: the sources of DESIGN §6, in its order, with its checks — so
/// that an embedder unlocks exactly as the `sendcloud-vault` CLI does.
///
/// A source given explicitly (the CLI's flags: `--key-file`, `--key-command`, `--passphrase-file`,
/// `--passphrase-command`) wins over every environment variable: what the user typed on the command line beats a
/// variable left in a shell profile. Among the explicit sources, and among the variables, the order is:
/// 1. a key file: the path given (`--key-file`), else `SENDCLOUD_VAULT_KEY_FILE`;
/// 2. a base64 key in `SENDCLOUD_VAULT_KEY` (a variable only);
/// 3. a key command: the command given (`--key-command`), else `SENDCLOUD_VAULT_KEY_COMMAND`; it prints the base64
///    key (``SecretCommand``);
/// 4. a passphrase file: the path given (`--passphrase-file`; `-` is standard input), else
///    `SENDCLOUD_VAULT_PASSPHRASE_FILE`;
/// 5. a passphrase in `SENDCLOUD_VAULT_PASSPHRASE` (a variable only);
/// 6. a passphrase command: the command given (`--passphrase-command`), else
///    `SENDCLOUD_VAULT_PASSPHRASE_COMMAND`; it prints the passphrase.
///
/// The first source present is the only one tried (a wrong key never falls through to a passphrase). With none of
/// them ``first(keyFile:keyCommand:passphraseFile:passphraseCommand:)`` is `nil`: the caller prompts on a terminal
/// (the CLI does) or fails. A key file, and a passphrase file other than standard input, must be a regular file
/// without any group or other permission bit (mode & 077 == 0), else ``VaultError/Code/unsafePermissions``; see
/// ``readSecretFile(_:what:requirePrivate:)`` for the rest of the rules on files, and ``SecretCommand`` for how
/// commands run. Commands from the command line or the environment get ``SecretCommand/environmentTimeout``.
/// Secrets are read into ``SecureBytes`` and never pass through `String`.
public enum VaultUnlockSource: Sendable, Hashable {
    /// A file holding the base64 key-file key.
    case keyFile(path: String)
    /// An environment variable holding the base64 key-file key.
    case keyVariable(String)
    /// A file holding the passphrase; `-` is standard input.
    case passphraseFile(path: String)
    /// An environment variable holding the passphrase.
    case passphraseVariable(String)
    /// A command that prints the base64 key-file key.
    case keyCommand(SecretCommand)
    /// A command that prints the passphrase.
    case passphraseCommand(SecretCommand)

    /// `SENDCLOUD_VAULT_KEY_FILE`: the path of a key file.
    public static let keyFileVariable = "SENDCLOUD_VAULT_KEY_FILE"
    /// `SENDCLOUD_VAULT_KEY`: the base64 key itself.
    public static let keyVariableName = "SENDCLOUD_VAULT_KEY"
    /// `SENDCLOUD_VAULT_PASSPHRASE_FILE`: the path of a passphrase file.
    public static let passphraseFileVariable = "SENDCLOUD_VAULT_PASSPHRASE_FILE"
    /// `SENDCLOUD_VAULT_PASSPHRASE`: the passphrase itself.
    public static let passphraseVariableName = "SENDCLOUD_VAULT_PASSPHRASE"
    /// `SENDCLOUD_VAULT_KEY_COMMAND`: a command (run with `/bin/sh -c`) that prints the base64 key.
    public static let keyCommandVariable = "SENDCLOUD_VAULT_KEY_COMMAND"
    /// `SENDCLOUD_VAULT_PASSPHRASE_COMMAND`: a command (run with `/bin/sh -c`) that prints the passphrase.
    public static let passphraseCommandVariable = "SENDCLOUD_VAULT_PASSPHRASE_COMMAND"
    /// The CLI's flag for a key command, as messages name it.
    public static let keyCommandFlag = "--key-command"
    /// The CLI's flag for a passphrase command, as messages name it.
    public static let passphraseCommandFlag = "--passphrase-command"

    /// The sources in order, for messages that name them.
    public static let sourcesDescription =
        "--key-file, SENDCLOUD_VAULT_KEY_FILE, SENDCLOUD_VAULT_KEY, --key-command, SENDCLOUD_VAULT_KEY_COMMAND, "
        + "--passphrase-file, SENDCLOUD_VAULT_PASSPHRASE_FILE, SENDCLOUD_VAULT_PASSPHRASE, --passphrase-command or "
        + "SENDCLOUD_VAULT_PASSPHRASE_COMMAND"

    /// The unlock source in effect: the first of ``present(keyFile:keyCommand:passphraseFile:passphraseCommand:)``,
    /// else `nil`.
    /// - Parameters:
    ///   - keyFile: a key-file path given explicitly (`--key-file`).
    ///   - keyCommand: a key command given explicitly (`--key-command`).
    ///   - passphraseFile: a passphrase-file path given explicitly (`--passphrase-file`).
    ///   - passphraseCommand: a passphrase command given explicitly (`--passphrase-command`).
    public static func first(
        keyFile: String? = nil,
        keyCommand: String? = nil,
        passphraseFile: String? = nil,
        passphraseCommand: String? = nil
    ) -> VaultUnlockSource? {
        present(
            keyFile: keyFile,
            keyCommand: keyCommand,
            passphraseFile: passphraseFile,
            passphraseCommand: passphraseCommand
        ).first
    }

    /// Every source present, in order: the explicit ones when any is given (the environment is then not
    /// consulted at all), else the environment's. Creating a vault uses the first key source and the first
    /// passphrase source of this list; unlocking uses its first element only.
    public static func present(
        keyFile: String? = nil,
        keyCommand: String? = nil,
        passphraseFile: String? = nil,
        passphraseCommand: String? = nil
    ) -> [VaultUnlockSource] {
        let timeout = SecretCommand.environmentTimeout
        var given: [VaultUnlockSource] = []
        if let keyFile { given.append(.keyFile(path: keyFile)) }
        if let keyCommand, !keyCommand.isEmpty {
            given.append(.keyCommand(SecretCommand(keyCommand, origin: keyCommandFlag, timeout: timeout)))
        }
        if let passphraseFile { given.append(.passphraseFile(path: passphraseFile)) }
        if let passphraseCommand, !passphraseCommand.isEmpty {
            given.append(
                .passphraseCommand(SecretCommand(passphraseCommand, origin: passphraseCommandFlag, timeout: timeout))
            )
        }
        guard given.isEmpty else { return given }
        var variables: [VaultUnlockSource] = []
        if let path = plainValue(keyFileVariable) { variables.append(.keyFile(path: path)) }
        if isSet(keyVariableName) { variables.append(.keyVariable(keyVariableName)) }
        if let command = plainValue(keyCommandVariable) {
            variables.append(.keyCommand(SecretCommand(command, origin: keyCommandVariable, timeout: timeout)))
        }
        if let path = plainValue(passphraseFileVariable) { variables.append(.passphraseFile(path: path)) }
        if isSet(passphraseVariableName) { variables.append(.passphraseVariable(passphraseVariableName)) }
        if let command = plainValue(passphraseCommandVariable) {
            variables.append(
                .passphraseCommand(SecretCommand(command, origin: passphraseCommandVariable, timeout: timeout))
            )
        }
        return variables
    }

    /// Whether this source supplies a key-file key (else a passphrase).
    public var suppliesKey: Bool { secretName == "vault key" }

    /// What this source is, for messages: `the key file /etc/…`, `SENDCLOUD_VAULT_PASSPHRASE`, `the output of
    /// --key-command`. Never the secret.
    public var origin: String {
        switch self {
        case .keyFile(let path): "the key file \(path)"
        case .passphraseFile(let path): path == "-" ? "the passphrase on standard input" : "the passphrase file \(path)"
        case .keyVariable(let name), .passphraseVariable(let name): name
        case .keyCommand(let command), .passphraseCommand(let command): "the output of \(command.origin)"
        }
    }

    /// The file this source reads, if it is a file (`-` for standard input).
    public var path: String? {
        switch self {
        case .keyFile(let path), .passphraseFile(let path): path
        case .keyVariable, .passphraseVariable, .keyCommand, .passphraseCommand: nil
        }
    }

    /// Whether this source reads standard input (a caller that reads other secrets from it must know).
    public var readsStandardInput: Bool { path == "-" }

    /// What the source supplies, for messages: `vault key` or `passphrase`.
    public var secretName: String {
        switch self {
        case .keyFile, .keyVariable, .keyCommand: "vault key"
        case .passphraseFile, .passphraseVariable, .passphraseCommand: "passphrase"
        }
    }

    /// Reads the secret. Throws ``VaultError``: ``VaultError/Code/notFound`` for a file that cannot be opened,
    /// ``VaultError/Code/unsafePermissions`` for a key or passphrase file others may read,
    /// ``VaultError/Code/invalidInput`` for a file that is not regular, empty, too large or holds a NUL byte,
    /// ``VaultError/Code/wrongKey`` for a key that is not base64 of 32 bytes, ``VaultError/Code/storage`` when
    /// reading fails; ``VaultError/Code/invalidInput`` also for a variable that is no longer set;
    /// ``VaultError/Code/secretCommandFailed`` for a command that fails (``SecretCommand/run(what:)``).
    public func secret() throws(VaultError) -> UnlockSecret {
        switch self {
        case .keyFile(let path):
            let text = try Self.readSecretFile(path, what: secretName, requirePrivate: true)
            return .key(try Self.parseKey(text, from: origin))
        case .keyVariable(let name):
            return .key(try Self.parseKey(try Self.variable(name), from: name))
        case .passphraseFile(let path):
            return .passphrase(try Self.readSecretFile(path, what: secretName, requirePrivate: path != "-"))
        case .passphraseVariable(let name):
            return .passphrase(try Self.variable(name))
        case .keyCommand(let command):
            return .key(try Self.parseKey(try command.run(what: secretName), from: origin))
        case .passphraseCommand(let command):
            return .passphrase(try command.run(what: secretName))
        }
    }

    /// Parses a base64 vault key; `source` names where it came from (never the text itself).
    static func parseKey(_ text: SecureBytes, from source: String) throws(VaultError) -> KeyFileKey {
        do { return try KeyFileKey(base64Text: text) } catch {
            throw VaultError(.wrongKey, "\(source) does not hold a vault key (base64 of 32 bytes)")
        }
    }

    private static func variable(_ name: String) throws(VaultError) -> SecureBytes {
        guard let value = environmentSecret(name) else { throw VaultError(.invalidInput, "\(name) is not set") }
        return value
    }

    /// The value of environment variable `name` as a secret, if set and non-empty.
    static func environmentSecret(_ name: String) -> SecureBytes? {
        guard let pointer = getenv(name) else { return nil }
        let length = strlen(pointer)
        guard length > 0 else { return nil }
        return SecureBytes(copying: UnsafeRawBufferPointer(start: pointer, count: length))
    }

    private static func isSet(_ name: String) -> Bool {
        guard let pointer = getenv(name) else { return false }
        return pointer.pointee != 0
    }

    /// A non-secret environment value (a path), if set and non-empty.
    private static func plainValue(_ name: String) -> String? {
        guard let pointer = getenv(name), pointer.pointee != 0 else { return nil }
        return String(cString: pointer)
    }
}
