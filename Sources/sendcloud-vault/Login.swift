import ArgumentParser
import CredentialVault
import Foundation
import SendcloudOAuth

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login",
        abstract: "Authorize an account in the browser (authorization code + PKCE) and store its tokens.",
        discussion: """
            Listens on 127.0.0.1 (--port, default any free port) for the redirect, prints the authorize URL on \
            stderr and opens a browser when one is available (not with --no-browser). Only a redirect carrying this \
            login's state is taken (any local process can reach the listener): others get an error page and are \
            ignored, and login waits for the real one until --timeout (then exit 1, nothing stored). The client secret comes from --client-secret-file, \
            SENDCLOUD_CLIENT_SECRET or a prompt. Logging in to an existing account re-authorizes it (status back to \
            ok) with its stored client id, client secret and token URL; --client-id, --client-secret-file and \
            --token-url override them. Authorize URL: SENDCLOUD_AUTHORIZE_URL, else Sendcloud's.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Account name.", completion: .accountNames)
    var name: String

    @OptionGroup var client: ClientOptions

    @Option(name: .long, help: "Scopes to ask for; a refresh token needs offline_access.")
    var scope = "api offline_access"

    @Option(name: .long, help: "Loopback port for the redirect (0 = any free port).")
    var port = 0

    @Flag(name: .long, help: "Do not try to open a browser; only print the URL.")
    var noBrowser = false

    @Option(name: .long, help: "Give up waiting for the browser after this long.")
    var timeout = DurationArgument(.seconds(300))

    func run() async throws {
        let accountName = try AccountName(name)
        let authorizeBase = try OAuthSession.authorizeURL()
        let input = SecretInput()
        try global.requireAtMostOneStdin([client.clientSecretFile])
        let vault = try await global.openVault(input)
        // An existing account is re-authorized with its stored client id, secret and token URL (flags override).
        let stored: (account: Account, secrets: AccountSecrets)?
        do {
            stored = try await vault.openAccount(named: accountName)
        } catch let error as VaultError where error.code == .notFound {
            stored = nil
        }
        let clientID = try client.clientID ?? stored?.account.clientID ?? client.requiredClientID()
        let tokenURL = try OAuthSession.tokenURL(client.tokenURL ?? stored?.account.tokenURL)
        let clientSecret: SecureBytes
        if client.clientSecretFile == nil, let secret = stored?.secrets.clientSecret {
            clientSecret = secret
        } else {
            clientSecret = try client.clientSecret(input)
        }
        let receiver = try await LoopbackRedirectReceiver(port: port)
        let session = AuthorizationSession(redirectURI: receiver.redirectURI)
        receiver.expect(state: session.state)
        let url = try session.authorizeURL(base: authorizeBase, clientID: clientID, scope: scope)
        Output.stderr("Open this URL in a browser to authorize '\(accountName)':\n\(url)")
        let page = noBrowser ? nil : Browser.open(url)
        defer { page.map { try? FileManager.default.removeItem(atPath: $0) } }
        let parameters = try await receiver.waitForCallback(timeout: timeout.duration)
        await receiver.close()
        let code = try session.code(from: parameters)
        let account = try await OAuthSession.with(vault, global) { provider in
            try await provider.authorize(
                Account(
                    name: accountName,
                    mode: .refreshToken,
                    clientID: clientID,
                    scopes: scope,
                    tokenURL: tokenURL
                ),
                clientSecret: clientSecret,
                code: code,
                redirectURI: session.redirectURI,
                codeVerifier: session.codeVerifier,
                mayReplace: true  // login on an existing account re-authorizes it (README)
            )
        }
        if global.json {
            Output.printJSON(Output.accountJSON(account))
        } else {
            // A login whose answer carries no refresh token is refused before anything is stored.
            print(
                "Logged in '\(account.name)': access token valid until \(account.accessTokenExpiresAt.map { $0.formatted(.iso8601) } ?? "unknown"); refresh token stored."
            )
        }
    }
}

/// Opens a URL with xdg-open when a graphical session is present; silent otherwise.
enum Browser {
    /// Opens `url` through a private page that redirects to it, and returns the page's folder (the caller removes
    /// it). The authorize URL carries this login's `state`: given to xdg-open in argv, any local user could read it
    /// in `/proc/PID/cmdline` and answer the listener first; a 0600 file in a 0700 folder shows only a path.
    static func open(_ url: String) -> String? {
        guard SecretInput.plainEnvironment("DISPLAY") != nil || SecretInput.plainEnvironment("WAYLAND_DISPLAY") != nil
        else { return nil }
        let opener = "/usr/bin/xdg-open"
        guard FileManager.default.isExecutableFile(atPath: opener) else { return nil }
        var template = Array((NSTemporaryDirectory() + "/sendcloud-vault-login.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { return nil }  // 0700
        let folder = String(cString: made)
        let page = folder + "/authorize.html"
        let escaped = url.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "<", with: "&lt;")
        let html =
            "<!doctype html><meta http-equiv=\"refresh\" content=\"0; url=\(escaped)\"><title>sendcloud-vault</title>"
        guard
            FileManager.default.createFile(
                atPath: page,
                contents: Data(html.utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else { return folder }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: opener)
        process.arguments = ["file://" + page]
        // The browser must not inherit secrets from our environment.
        process.environment = ProcessInfo.processInfo.environment.filter { key, _ in
            ![
                "SENDCLOUD_VAULT_KEY", "SENDCLOUD_VAULT_PASSPHRASE", "SENDCLOUD_CLIENT_SECRET",
                "SENDCLOUD_REFRESH_TOKEN",
                "SENDCLOUD_VAULT_NEW_PASSPHRASE", "SENDCLOUD_VAULT_BACKUP_PASSPHRASE",
            ].contains(key)
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
        return folder
    }
}
