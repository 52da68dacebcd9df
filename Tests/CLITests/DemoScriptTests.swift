import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `./demo`, the README's first command, run as CI runs it: against the built binaries, in a temporary folder of
/// its own (TMPDIR), checked for what it claims (it checks itself and exits non-zero when a step misbehaves) and
/// for cleaning up after itself.
@Suite("./demo")
struct DemoScriptTests {
    /// The package root, where `demo` and `.build/debug` are.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // CLITests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()
        .path

    /// Runs `./demo` with TMPDIR inside the harness and the given binaries; returns the result and the seconds taken.
    static func runDemo(_ cli: CLIHarness, vaultBinary: String) async throws -> (CLIResult, Double, String) {
        let endpoint = packageRoot + "/.build/debug/sendcloud-dev-endpoint"
        try #require(
            FileManager.default.isExecutableFile(atPath: endpoint),
            "sendcloud-dev-endpoint is not built at \(endpoint): run `swift build --build-tests` first"
        )
        let temporary = cli.root + "/tmp"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: false)
        let start = ContinuousClock.now
        let result = try await cli.launch(
            packageRoot + "/demo",
            [],
            env: [
                "TMPDIR": temporary,
                "SENDCLOUD_VAULT_BIN": vaultBinary,
                "SENDCLOUD_DEV_ENDPOINT_BIN": endpoint,
            ]
        )
        let elapsed = start.duration(to: .now)
        return (result, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, temporary)
    }

    /// The endpoint's pid, from the demo's "(pid N)".
    static func endpointPID(in output: String) -> pid_t? {
        guard let range = output.range(of: #"\(pid [0-9]+\)"#, options: .regularExpression) else { return nil }
        return pid_t(output[range].dropFirst(5).dropLast())
    }

    /// Whether a process with this pid exists (a zombie counts).
    static func isRunning(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno != ESRCH
    }

    @Test("./demo exits 0 in under a minute, shows one refresh for 8 callers and exit 80, and leaves nothing behind")
    func demoRuns() async throws {
        let cli = try CLIHarness()
        let (result, seconds, temporary) = try await Self.runDemo(cli, vaultBinary: cli.binary)
        try #require(result.status == 0, "./demo failed:\n\(result)")
        #expect(seconds < 60, "./demo took \(seconds) s")
        for claim in [
            "the endpoint still counts 1 grant",
            "8 callers, 1 token, 1 refresh grant",
            "Refreshed 2 account(s); 0 failed.",
            "exit 80, bolt is now reauth-required",
            "added 2 (acme, bolt)",
            "hold no secret in clear: confirmed",
        ] {
            #expect(result.stdout.contains(claim), "the demo does not show '\(claim)':\n\(result)")
        }
        expectNoSecrets(result, ["acme-secret-key", "bolt-secret-key", "demo backup passphrase"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty, "./demo left files behind")
        let pid = try #require(Self.endpointPID(in: result.stdout), "no endpoint pid in:\n\(result)")
        #expect(!Self.isRunning(pid), "the endpoint (pid \(pid)) still runs after the demo")
    }

    @Test("a step that fails makes ./demo exit non-zero, and it still stops the endpoint and removes its folder")
    func failingStepCleansUp() async throws {
        let cli = try CLIHarness()
        // The real binary for every command but `verify`, which fails as a damaged vault would.
        let wrapper = try cli.writeFile(
            "failing-verify",
            """
            #!/bin/sh
            if [ "$1" = verify ]; then echo "injected failure" >&2; exit 65; fi
            exec '\(cli.binary)' "$@"

            """,
            mode: 0o700
        )
        let (result, _, temporary) = try await Self.runDemo(cli, vaultBinary: wrapper)
        #expect(result.status != 0, "./demo succeeded although verify failed:\n\(result)")
        #expect(result.stderr.contains("demo FAILED"), "no failure line:\n\(result)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary).isEmpty, "./demo left files behind")
        let pid = try #require(Self.endpointPID(in: result.stdout), "no endpoint pid in:\n\(result)")
        #expect(!Self.isRunning(pid), "the endpoint (pid \(pid)) still runs after the failed demo")
    }
}
