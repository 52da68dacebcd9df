import ArgumentParser
import Foundation
import SendcloudTesting
import UnixSignals

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Serves the fake Sendcloud (``FakeSendcloud``) on a loopback port until SIGINT or SIGTERM: a development token
/// endpoint, authorize endpoint and API stand-in for local development and the examples.
struct DevEndpoint: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sendcloud-dev-endpoint",
        abstract: "Serve a fake Sendcloud (Ory Hydra) token endpoint, authorize endpoint and API on 127.0.0.1.",
        discussion: """
            For local development and tests only: everything is in memory, the authorize endpoint approves every \
            request at once (no login, no consent) and redirects only to http://127.0.0.1 or http://localhost, and \
            secrets are not compared in constant time. Never expose it.

            Prints the endpoints' URLs on stdout, one per line ("token endpoint: URL", "authorize endpoint: URL", \
            "api: URL"), then serves until SIGINT or SIGTERM and exits 0.

            Clients come from --clients-file, a JSON object {"client id": "client secret", ...} that only its owner \
            may read (mode 0600 or stricter), or from --accept-any-client. Secrets are never taken from the command \
            line.

            WARNING: --accept-any-client makes the server accept ANY client id: the first secret presented for an \
            unknown client id registers it. Use it for local development only, never where others can reach the \
            port.

            --issue-refresh-token CLIENT_ID=PATH (repeatable) starts an authorization for that client, as if a \
            merchant had consented, and writes its refresh token to PATH, a new file (mode 0600; an existing file \
            is refused), before the URLs are printed: add it with 'sendcloud-vault add NAME --refresh-token-file \
            PATH'. Split at the first '='.

            Control routes, for scripts such as ./demo (loopback only, like everything here): GET /dev/stats \
            answers the server's counters as JSON (token_requests, client_credentials_grants, refresh_grants, \
            invalid_grant, max_concurrent_token_requests, ...; never a token). POST /dev/revoke?client_id=ID \
            revokes every authorization of that client (its refresh and access tokens: the next refresh is \
            invalid_grant). POST /dev/access-token-lifetime?seconds=N changes the lifetime of tokens issued from \
            then on. POST requests need the header 'Sendcloud-Dev-Control: 1' (403 without it).
            """
    )

    @Option(help: "A loopback address to listen on (127.0.0.1, another 127.x.y.z, ::1 or localhost).")
    var host = "127.0.0.1"

    @Option(help: "The port (0 = any free port; the URLs printed name the one chosen).")
    var port = 0

    @Option(
        name: .customLong("clients-file"),
        help: "JSON object of client ids and secrets, {\"id\": \"secret\"}; readable by its owner only."
    )
    var clientsFile: String?

    @Flag(help: "DEVELOPMENT ONLY: accept any client id, registering it with the first secret presented.")
    var acceptAnyClient = false

    @Option(help: "The lifetime of issued access tokens, in seconds (expires_in).")
    var accessTokenLifetime = 3600

    @Option(
        name: .customLong("issue-refresh-token"),
        help: ArgumentHelp(
            "Write a fresh refresh token of this client to a new 0600 file before serving (repeatable).",
            valueName: "client-id=path"
        )
    )
    var refreshTokenFiles: [RefreshTokenFile] = []

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        guard accessTokenLifetime >= 0 else { throw ValidationError("--access-token-lifetime must be 0 or more") }
        guard clientsFile != nil || acceptAnyClient else {
            throw ValidationError("give --clients-file PATH or --accept-any-client: no client could authenticate")
        }
    }

    func run() async throws {
        try await serve()
    }

    /// Reads the clients, serves until SIGINT or SIGTERM, then stops the server.
    func serve() async throws {
        let clients: [String: String]
        do {
            clients = try clientsFile.map(ClientsFile.read) ?? [:]
        } catch let error as StartupFailure {
            FileHandle.standardError.write(Data("sendcloud-dev-endpoint: \(error.message)\n".utf8))
            throw ExitCode(error.exitCode)
        }
        // Trap the signals before the URLs are printed: a SIGTERM right after them must stop the server cleanly.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let server: FakeSendcloud
        do {
            server = try await FakeSendcloud.start(host: host, port: port, clients: clients, developmentRoutes: true)
        } catch {
            FileHandle.standardError.write(Data("sendcloud-dev-endpoint: cannot serve: \(error)\n".utf8))
            throw ExitCode(error is FakeSendcloud.StartError ? 64 : 69)
        }
        server.setAccessTokenLifetime(seconds: accessTokenLifetime)
        server.setAcceptsAnyClient(acceptAnyClient)
        if acceptAnyClient {
            FileHandle.standardError.write(
                Data(
                    ("sendcloud-dev-endpoint: WARNING: --accept-any-client: any client id is accepted and registered "
                        + "with the first secret presented; for local development only\n").utf8
                )
            )
        }
        for file in refreshTokenFiles {
            do {
                try file.write(server.issueRefreshToken(clientID: file.clientID))
            } catch {
                FileHandle.standardError.write(Data("sendcloud-dev-endpoint: \(error.message)\n".utf8))
                await server.stop()
                throw ExitCode(error.exitCode)
            }
        }
        print("token endpoint: \(server.tokenURL)")
        print("authorize endpoint: \(server.authorizeURL)")
        print("api: \(server.userAuthMetadataURL)")
        fflush(nil)
        for await _ in signals { break }
        await server.stop()
    }
}

/// The `--clients-file`: a JSON object of client ids and secrets, readable by its owner only.
enum ClientsFile {
    static let maximumBytes = 1 << 20

    /// Opens `path` (no symlink at the last component), checks the opened file's mode and reads the object.
    static func read(_ path: String) throws -> [String: String] {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            throw StartupFailure(
                message: "cannot open the clients file \(path): \(reason)",
                exitCode: errno == ENOENT ? 66 : 78
            )
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw StartupFailure(message: "the clients file \(path) is not a regular file", exitCode: 78)
        }
        guard status.st_mode & 0o077 == 0 else {
            throw StartupFailure(
                message: "the clients file \(path) is accessible by group or others (mode "
                    + String(status.st_mode & 0o777, radix: 8) + "): chmod 600 it",
                exitCode: 78
            )
        }
        let data = try handle.read(upToCount: maximumBytes + 1) ?? Data()
        guard data.count <= maximumBytes else {
            throw StartupFailure(message: "the clients file \(path) is larger than 1 MiB", exitCode: 65)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let clients = object as? [String: String]
        else {
            throw StartupFailure(
                message: "the clients file \(path) is not a JSON object of strings, {\"client id\": \"secret\"}",
                exitCode: 65
            )
        }
        guard clients.keys.allSatisfy({ !$0.isEmpty }) else {
            throw StartupFailure(message: "the clients file \(path) holds an empty client id", exitCode: 65)
        }
        return clients
    }
}

// Top-level code (this is main.swift): parse, validate and run the async command, exiting as ArgumentParser does.
do {
    let command = try DevEndpoint.parse()
    try await command.serve()
} catch {
    DevEndpoint.exit(withError: error)
}
