import Foundation
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one run of the CLI produced.
struct CLIResult: Sendable, CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(status)\n--- stdout:\n\(stdout)\n--- stderr:\n\(stderr)" }

    /// Standard output parsed as one JSON object, or nil.
    var jsonObject: [String: Any]? { Self.parse(stdout) as? [String: Any] }

    /// Standard output parsed as a JSON array of objects, or nil.
    var jsonArray: [[String: Any]]? { Self.parse(stdout) as? [[String: Any]] }

    /// The `{"error": {...}}` object on standard error, or nil.
    var jsonError: [String: Any]? { (Self.parse(stderr) as? [String: Any])?["error"] as? [String: Any] }

    private static func parse(_ text: String) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    /// Whether `text` appears in standard output or standard error.
    func mentions(_ text: String) -> Bool { stdout.contains(text) || stderr.contains(text) }
}

/// Set once the child has exited (so the watchdog does not signal a reused pid).
private final class Finished: Sendable {
    let state = Mutex(false)
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
}

/// Runs the built `sendcloud-vault` binary as a user would, inside a private temporary directory that is removed
/// when the harness goes away (Swift Testing makes one suite instance, hence one harness, per test).
final class CLIHarness: Sendable {
    /// The binary under test.
    let binary: String
    /// The private (0700) temporary directory of this test; also `HOME` of every run.
    let root: String
    /// Owns ``root``: removes it when the harness goes away.
    private let directory: TempDir

    /// Where ``initVault()`` puts the vault: a file whose directory does not exist until `init` creates it, or the
    /// location given at creation (a `postgres://` URL).
    let vault: String
    /// What every run against ``vault`` needs besides the key (a database password), also given to `init`.
    let vaultEnvironment: [String: String]
    /// Where ``initVault()`` writes the generated key.
    var keyFile: String { root + "/vault.key" }
    /// The environment that unlocks the vault of ``initVault()`` with its key file.
    var keyEnv: [String: String] { ["SENDCLOUD_VAULT_KEY_FILE": keyFile] }

    /// A harness whose vault is `vault` (default: a file in its own directory), reached with `vaultEnvironment`.
    init(vault: String? = nil, vaultEnvironment: [String: String] = [:]) throws {
        binary = try Self.locateBinary()
        directory = try TempDir(prefix: "sendcloud-vault-cli")
        root = directory.path
        self.vault = vault ?? root + "/vaultdir/vault.sqlite"
        self.vaultEnvironment = vaultEnvironment
        try FileManager.default.createDirectory(atPath: root + "/.io", withIntermediateDirectories: false)
    }

    /// `SENDCLOUD_VAULT_BIN`, else `<package root>/.build/debug/sendcloud-vault`.
    private static func locateBinary() throws -> String {
        let path: String
        if let fromEnv = ProcessInfo.processInfo.environment["SENDCLOUD_VAULT_BIN"], !fromEnv.isEmpty {
            path = fromEnv
        } else {
            let packageRoot = URL(fileURLWithPath: #filePath)
                .deletingLastPathComponent()  // CLITests
                .deletingLastPathComponent()  // Tests
                .deletingLastPathComponent()  // package root
            path = packageRoot.appendingPathComponent(".build/debug/sendcloud-vault").path
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError(
                description: "the sendcloud-vault binary is missing at \(path): run `swift build` first "
                    + "(or set SENDCLOUD_VAULT_BIN to the built binary)"
            )
        }
        return path
    }

    // MARK: - Running

    /// Runs the binary with a clean environment (PATH, HOME = ``root`` and `env` only), standard input from a
    /// pipe holding `stdin` (empty when nil; never a terminal), and waits for it to exit.
    func run(
        _ arguments: [String],
        env: [String: String] = [:],
        stdin: Data? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CLIResult {
        try await launch(binary, arguments, env: env, stdin: stdin, sourceLocation: sourceLocation)
    }

    /// Runs another program (such as sqlite3) the same way as the CLI.
    func launch(
        _ executable: String,
        _ arguments: [String],
        env: [String: String] = [:],
        stdin: Data? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CLIResult {
        let process = ChildProcess()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        var environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "HOME": root,
        ]
        environment.merge(env) { _, given in given }
        process.environment = environment

        // Standard input: a pipe that holds the whole input and is closed, so the child reads it and then EOF.
        let input = Pipe()
        let bytes = stdin ?? Data()
        precondition(bytes.count < 32 * 1024, "test input must fit into the pipe buffer")
        if !bytes.isEmpty { input.fileHandleForWriting.write(bytes) }
        try input.fileHandleForWriting.close()
        process.standardInput = input

        // Output into files: no pipe can fill up and block the child.
        let id = UUID().uuidString
        let outPath = root + "/.io/\(id).out"
        let errPath = root + "/.io/\(id).err"
        guard FileManager.default.createFile(atPath: outPath, contents: nil),
            FileManager.default.createFile(atPath: errPath, contents: nil)
        else { throw HarnessError(description: "cannot create output files in \(root)/.io") }
        let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = outHandle
        process.standardError = errHandle

        let finished = Finished()
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { ended in
                finished.state.withLock { $0 = true }
                continuation.resume(returning: ended.terminationStatus)
            }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
                return
            }
            // A hung CLI (say, one waiting for input) must not hang the suite.
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + 60) {
                finished.state.withLock { done in
                    if !done { kill(pid, SIGKILL) }
                }
            }
        }
        try outHandle.close()
        try errHandle.close()
        try input.fileHandleForReading.close()
        let result = CLIResult(
            status: status,
            stdout: String(decoding: try Data(contentsOf: URL(fileURLWithPath: outPath)), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: URL(fileURLWithPath: errPath)), as: UTF8.self)
        )
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
        if process.terminationReason == .uncaughtSignal {
            Issue.record(
                "\(executable) \(arguments) was killed by a signal:\n\(result)",
                sourceLocation: sourceLocation
            )
        }
        return result
    }

    /// Runs against ``vault`` (`--vault` appended, after the subcommand) unlocked with ``keyFile``, with
    /// ``vaultEnvironment``, unless `env` overrides them.
    func vaultRun(
        _ arguments: [String],
        env: [String: String] = [:],
        stdin: Data? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CLIResult {
        try await run(
            arguments + ["--vault", vault],
            env: keyEnv.merging(vaultEnvironment) { $1 }.merging(env) { _, given in given },
            stdin: stdin,
            sourceLocation: sourceLocation
        )
    }

    /// Runs `arguments` against ``vault`` and requires exit 0.
    @discardableResult
    func succeed(
        _ arguments: [String],
        env: [String: String] = [:],
        stdin: Data? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CLIResult {
        let result = try await vaultRun(arguments, env: env, stdin: stdin, sourceLocation: sourceLocation)
        try #require(
            result.status == 0,
            "sendcloud-vault \(arguments) failed:\n\(result)",
            sourceLocation: sourceLocation
        )
        return result
    }

    /// Runs `sql` on ``vault`` with the sqlite3 tool (which `./setup` installs), as someone who can write the vault
    /// file would; returns its standard output.
    @discardableResult
    func tamper(_ sql: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let sqlite3 = try #require(
            sqlite3Path,
            "the sqlite3 tool is missing: run ./setup",
            sourceLocation: sourceLocation
        )
        let result = try await launch(sqlite3, [vault, sql], sourceLocation: sourceLocation)
        try #require(result.status == 0, "sqlite3 failed:\n\(result)", sourceLocation: sourceLocation)
        return result.stdout
    }

    // MARK: - Fixtures

    /// Creates ``vault`` with a generated key file at ``keyFile``.
    @discardableResult
    func initVault(sourceLocation: SourceLocation = #_sourceLocation) async throws -> CLIResult {
        let result = try await run(["init", "--vault", vault, "--generate-key-file", keyFile], env: vaultEnvironment)
        try #require(result.status == 0, "init failed:\n\(result)", sourceLocation: sourceLocation)
        return result
    }

    /// Adds a client-credentials account whose client secret comes from standard input.
    @discardableResult
    func addAccount(
        _ name: String,
        clientID: String = "public-key",
        secret: String,
        extra: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> CLIResult {
        try await succeed(
            ["add", name, "--client-id", clientID, "--client-secret-file", "-"] + extra,
            stdin: Data(secret.utf8),
            sourceLocation: sourceLocation
        )
    }

    /// Creates the vault with `acme` (client-credentials, client secret `secrets[0]`) and `bolt` (refresh-token,
    /// client secret `secrets[1]` and refresh token `secrets[2]`, both from the environment).
    func seedTwoAccounts(_ secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await initVault(sourceLocation: sourceLocation)
        try await addAccount("acme", secret: secrets[0], sourceLocation: sourceLocation)
        try await succeed(
            ["add", "bolt", "--client-id", "pub-bolt"],
            env: ["SENDCLOUD_CLIENT_SECRET": secrets[1], "SENDCLOUD_REFRESH_TOKEN": secrets[2]],
            sourceLocation: sourceLocation
        )
    }

    /// `show NAME --reveal --json`, parsed.
    func reveal(
        _ name: String,
        env: [String: String] = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    )
        async throws -> [String: Any]
    {
        let result = try await succeed(["show", name, "--reveal", "--json"], env: env, sourceLocation: sourceLocation)
        return try #require(result.jsonObject, "not a JSON object:\n\(result)", sourceLocation: sourceLocation)
    }

    /// Writes `contents` to `name` inside ``root`` with `mode`; returns the path.
    @discardableResult
    func writeFile(_ name: String, _ contents: String, mode: mode_t = 0o600) throws -> String {
        try writeFile(name, Data(contents.utf8), mode: mode)
    }

    @discardableResult
    func writeFile(_ name: String, _ contents: Data, mode: mode_t = 0o600) throws -> String {
        let path = root + "/" + name
        guard FileManager.default.createFile(atPath: path, contents: contents) else {
            throw HarnessError(description: "cannot write \(path)")
        }
        guard chmod(path, mode) == 0 else { throw HarnessError(description: "chmod \(path) failed") }
        return path
    }

    /// A valid vault key (base64 of 32 random bytes) that opens no vault, in a 0600 file.
    func writeRandomKey(_ name: String) throws -> String {
        let raw = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        return try writeFile(name, raw.base64EncodedString() + "\n")
    }

    /// The permission bits of `path`.
    func mode(of path: String) throws -> mode_t {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        guard let mode = attributes[.posixPermissions] as? Int else {
            throw HarnessError(description: "cannot stat \(path)")
        }
        return mode_t(mode & 0o7777)
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// The bytes of the vault file and of its SQLite side files, keyed by file name.
    func vaultFiles() throws -> [String: Data] {
        let directory = (vault as NSString).deletingLastPathComponent
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            var isDirectory: ObjCBool = false
            // The lock folder holds empty lock files only; the vault's bytes are the files beside it.
            guard FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory),
                !isDirectory.boolValue
            else { continue }
            files[name] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
        }
        return files
    }
}

/// Records an issue for every secret that shows up in the output of `result`.
func expectNoSecrets(
    _ result: CLIResult,
    _ secrets: [String],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    for secret in secrets {
        #expect(
            !result.stdout.contains(secret),
            "a secret leaked to stdout:\n\(result)",
            sourceLocation: sourceLocation
        )
        #expect(
            !result.stderr.contains(secret),
            "a secret leaked to stderr:\n\(result)",
            sourceLocation: sourceLocation
        )
    }
}

/// Requires `result` to be a failure with exit `code` and, under `--json`, the DESIGN §6 error object on stderr.
func expectFailure(
    _ result: CLIResult,
    _ code: Int32,
    json: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(result.status == code, "expected exit \(code):\n\(result)", sourceLocation: sourceLocation)
    guard json else { return }
    #expect(result.stdout.isEmpty, "a failure printed to stdout:\n\(result)", sourceLocation: sourceLocation)
    guard let error = result.jsonError else {
        Issue.record("no JSON error object on stderr:\n\(result)", sourceLocation: sourceLocation)
        return
    }
    #expect((error["code"] as? Int) == Int(code), "error.code:\n\(result)", sourceLocation: sourceLocation)
    #expect(!((error["kind"] as? String) ?? "").isEmpty, "error.kind:\n\(result)", sourceLocation: sourceLocation)
    #expect(!((error["message"] as? String) ?? "").isEmpty, "error.message:\n\(result)", sourceLocation: sourceLocation)
}

/// Whether the sqlite3 command-line tool is installed (used to tamper with a vault).
let sqlite3Path: String? = ["/usr/bin/sqlite3", "/usr/local/bin/sqlite3", "/opt/homebrew/bin/sqlite3"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }
