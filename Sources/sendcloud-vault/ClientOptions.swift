import ArgumentParser
import CredentialVault

/// The OAuth client of an account (`add`, `login`): id, where its secret comes from, and the token endpoint.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "OAuth client id (Sendcloud public key). Not a secret.")
    var clientID: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Read the client secret (Sendcloud secret key) from this file ('-' for stdin); else "
                + "SENDCLOUD_CLIENT_SECRET, else a prompt on a terminal.",
            valueName: "path"
        )
    )
    var clientSecretFile: String?

    @Option(
        name: .long,
        help:
            "Token endpoint URL for this account (else SENDCLOUD_TOKEN_URL, else Sendcloud's); https or loopback http."
    )
    var tokenURL: String?

    func validate() throws {
        if let clientID, clientID.isEmpty || clientID.contains(where: \.isNewline) {
            throw ValidationError("--client-id is empty or malformed")
        }
    }

    /// `--client-id`, required (64) where no stored account supplies one.
    func requiredClientID() throws -> String {
        guard let clientID else { throw CLIError.usage("--client-id is needed (the Sendcloud public key)") }
        return clientID
    }

    /// The chosen token URL, refused (78) unless https or loopback http.
    func chosenTokenURL() throws -> String { try OAuthSession.tokenURL(tokenURL) }

    /// `--client-secret-file`, `SENDCLOUD_CLIENT_SECRET`, or a prompt on a terminal.
    func clientSecret(_ input: SecretInput) throws -> SecureBytes {
        if let clientSecretFile {
            return try input.file(clientSecretFile, what: "client secret", requirePrivate: clientSecretFile != "-")
        }
        if let value = SecretInput.environment("SENDCLOUD_CLIENT_SECRET") { return value }
        guard SecretInput.isInteractive else {
            throw CLIError.usage("a client secret is needed: use --client-secret-file or SENDCLOUD_CLIENT_SECRET")
        }
        return try SecretInput.prompt("Client secret: ")
    }
}
