import CredentialVault
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ``SecretCommand`` and the command sources of ``VaultUnlockSource``: real `/bin/sh` children, real pipes.
// One test at a time: each starts many processes, and the whole suite shares two cores with timing-sensitive tests.
@Suite("SecretCommand: key and passphrase commands", .serialized)
struct SecretCommandTests {
    let directory: TempDir

    init() throws { directory = try TempDir(prefix: "secret-command") }

    /// What `script` prints, as a passphrase command.
    func output(_ script: String, timeout: Duration = .seconds(10)) throws -> String {
        let value = try SecretCommand(script, origin: "--passphrase-command", timeout: timeout).run(what: "passphrase")
        return value.unsafeStringValue() ?? "<not UTF-8>"
    }

    /// The error `script` fails with, as a passphrase command named `origin`.
    func failure(
        _ script: String,
        origin: String = "--passphrase-command",
        timeout: Duration = .seconds(10),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> VaultError {
        let value: SecureBytes
        do {
            value = try SecretCommand(script, origin: origin, timeout: timeout).run(what: "passphrase")
        } catch {
            #expect(error.code == .secretCommandFailed, "\(error)", sourceLocation: sourceLocation)
            return error
        }
        Issue.record("the command succeeded with \(value.count) bytes", sourceLocation: sourceLocation)
        throw TestSupportError(description: "no error")
    }

    @Test("a key command's base64 key unlocks as .key, the same key the file holds")
    func keySuccess() throws {
        let key = KeyFileKey.generate()
        let file = directory.file("key")
        try Data(try #require(key.base64Text().unsafeStringValue()).utf8).write(to: URL(fileURLWithPath: file))
        let source = VaultUnlockSource.keyCommand(SecretCommand("cat '\(file)'", origin: "--key-command"))
        guard case .key(let read) = try source.secret() else {
            Issue.record("not a key")
            return
        }
        #expect(read.base64Text() == key.base64Text())
        #expect(source.secretName == "vault key")
        #expect(source.path == nil && !source.readsStandardInput)
    }

    @Test("a passphrase command's output, exactly one trailing newline stripped")
    func passphraseSuccess() throws {
        #expect(try output("printf 'correct horse\\n'") == "correct horse")
        #expect(try output("printf 'two newlines\\n\\n'") == "two newlines\n")
        #expect(try output("printf 'crlf\\r\\n'") == "crlf")
        #expect(try output("printf '  spaces kept  '") == "  spaces kept  ")
        let source = VaultUnlockSource.passphraseCommand(SecretCommand("echo pass-word", origin: "x"))
        guard case .passphrase(let value) = try source.secret() else {
            Issue.record("not a passphrase")
            return
        }
        #expect(value == SecureBytes(utf8: "pass-word"))
    }

    @Test("a non-zero exit: the status, the origin and stderr in the message, never stdout")
    func nonZeroExit() throws {
        let error = try failure(
            "printf 'stdout-secret-7d1f'; echo 'vault: permission denied' >&2; exit 3",
            origin: "SENDCLOUD_VAULT_PASSPHRASE_COMMAND"
        )
        #expect(error.message.contains("SENDCLOUD_VAULT_PASSPHRASE_COMMAND"), "\(error)")
        #expect(error.message.contains("exited with status 3"), "\(error)")
        #expect(error.message.contains("vault: permission denied"), "\(error)")
        #expect(!error.message.contains("stdout-secret-7d1f"), "stdout leaked: \(error)")
        #expect(!String(reflecting: error).contains("stdout-secret-7d1f"), "stdout leaked: \(error)")
        #expect(!error.message.contains("printf"), "the command line is in the message: \(error)")
    }

    @Test("a command killed by a signal names the signal")
    func signalled() throws {
        let error = try failure("printf 'half-secret'; kill -TERM $$")
        #expect(error.message.contains("killed by signal \(SIGTERM)"), "\(error)")
        #expect(!error.message.contains("half-secret"), "\(error)")
    }

    @Test("empty output (nothing, or one newline) fails")
    func emptyOutput() throws {
        let nothing = try failure("true")
        #expect(nothing.message.contains("printed nothing"), "\(nothing)")
        #expect(nothing.message.contains("its stderr: (empty)"), "\(nothing)")
        let newline = try failure("echo")
        #expect(newline.message.contains("printed nothing"), "\(newline)")
    }

    @Test("output over the size cap fails, and the writer is killed rather than waited for")
    func oversize() throws {
        let start = ContinuousClock.now
        let error = try failure(
            "head -c \(VaultUnlockSource.maximumSecretFileSize + 10) /dev/zero | tr '\\0' a; sleep 20",
            timeout: .seconds(15)
        )
        #expect(error.message.contains("more than \(VaultUnlockSource.maximumSecretFileSize) bytes"), "\(error)")
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test("a NUL byte in the output fails")
    func nulByte() throws {
        let error = try failure("printf 'a\\000b'")
        #expect(error.message.contains("NUL"), "\(error)")
    }

    @Test("a hanging command is killed at the timeout with its whole process group, and reaped")
    func timeout() throws {
        let pids = directory.file("pids")
        let start = ContinuousClock.now
        // A background grandchild that holds stdout open, and a foreground child: both must die.
        let error = try failure(
            "sleep 60 & echo $! > '\(pids)'; echo $$ >> '\(pids)'; echo waiting >&2; sleep 60",
            timeout: .milliseconds(500)
        )
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(5), "took \(elapsed)")
        #expect(error.message.contains("did not finish within 500 ms and was killed"), "\(error)")
        #expect(error.message.contains("waiting"), "\(error)")
        let recorded = try String(contentsOfFile: pids, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        #expect(recorded.count == 2)
        // Killed processes disappear (or linger as a zombie of a parent other than us: state Z), within a moment.
        for pid in recorded {
            var alive = true
            for _ in 0..<100 where alive {
                alive = Self.isRunning(pid)
                if alive { usleep(20_000) }
            }
            #expect(!alive, "process \(pid) of the command's group survived the timeout")
        }
        // The shell itself was our child, and it is reaped: no zombie of ours.
        if let shell = recorded.last { #expect(!FileManager.default.fileExists(atPath: "/proc/\(shell)")) }
    }

    @Test("a command that closes its output but keeps running is killed at the timeout")
    func closedOutputStillRunning() throws {
        let start = ContinuousClock.now
        let error = try failure("exec >&- 2>&-; sleep 60", timeout: .milliseconds(300))
        #expect(error.message.contains("did not finish"), "\(error)")
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test("long stderr is summarised: bounded length, the size given")
    func longStderr() throws {
        let error = try failure("printf 'x%.0s' $(seq 1 20000) >&2; exit 1")
        #expect(error.message.contains("exited with status 1"), "\(error)")
        #expect(error.message.count < 400, "\(error.message.count) characters")
        #expect(error.message.contains("…\" (4096 or more bytes)"), "\(error)")
    }

    @Test("control characters in stderr are escaped, not passed to the terminal")
    func controlCharacters() throws {
        let error = try failure("printf 'bad\\033[31mred\\r\\nnext\\a\\342\\200\\256rtl\\n' >&2; exit 2")
        let controls = error.message.unicodeScalars.filter {
            switch $0.properties.generalCategory {
            case .control, .format: true
            default: false
            }
        }
        #expect(controls.isEmpty, "raw control characters: \(controls.map { $0.value })")
        #expect(error.message.contains("bad\\u{1b}[31mred\\r\\nnext\\u{7}\\u{202e}rtl"), "\(error)")
    }

    @Test("standard input is /dev/null, not ours")
    func stdinClosed() throws {
        #expect(try output("readlink /proc/self/fd/0") == "/dev/null")
        #expect(try output("if read -r line; then echo read-something; else echo eof; fi") == "eof")
    }

    @Test("the command sees only descriptors 0, 1 and 2, and runs in a process group of its own")
    func isolation() throws {
        // ls lists the shell's descriptors (no pipeline, so none of the shell's own pipes): what it inherited from us.
        #expect(try output("ls /proc/$$/fd") == "0\n1\n2")
        #expect(
            try output("set -- $(cat /proc/$$/stat); [ \"$5\" = \"$$\" ] && echo own-group || echo shared")
                == "own-group"
        )
    }

    @Test("running commands leaks no descriptor of ours")
    func noDescriptorLeak() throws {
        func openDescriptors() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        }
        // Warm up (lazy initialisation of the runtime's own descriptors).
        _ = try output("echo warm")
        let before = try openDescriptors()
        for _ in 0..<100 {
            _ = try output("echo ok")
            _ = try? failure("exit 1")
        }
        // Other suites run concurrently and open files of their own (sockets, pipes of their processes): allow
        // slack, but 200 runs leaking even one descriptor each would be 200.
        #expect(try openDescriptors() - before < 150)
    }

    @Test("a key command whose output is not a key: 77-class wrongKey, the output not shown")
    func notAKey() throws {
        let source = VaultUnlockSource.keyCommand(SecretCommand("echo not-a-key-5e2a", origin: "--key-command"))
        do {
            _ = try source.secret()
            Issue.record("accepted")
        } catch {
            #expect(error.code == .wrongKey)
            #expect(error.message.contains("--key-command"), "\(error)")
            #expect(!error.message.contains("not-a-key-5e2a"), "\(error)")
        }
    }

    @Test("the order: key file, key command, passphrase file, passphrase command; flags name themselves")
    func order() {
        // (Assumes the test process has none of the SENDCLOUD_VAULT_* variables set.)
        #expect(VaultUnlockSource.first(keyFile: "k", keyCommand: "c") == .keyFile(path: "k"))
        guard case .keyCommand(let key) = VaultUnlockSource.first(keyCommand: "c", passphraseFile: "p") else {
            Issue.record("a key command must beat a passphrase file")
            return
        }
        #expect(key.command == "c" && key.origin == "--key-command" && key.timeout == SecretCommand.defaultTimeout)
        #expect(VaultUnlockSource.first(passphraseFile: "p", passphraseCommand: "c") == .passphraseFile(path: "p"))
        guard case .passphraseCommand(let passphrase) = VaultUnlockSource.first(passphraseCommand: "c") else {
            Issue.record("a passphrase command alone must be the source")
            return
        }
        #expect(passphrase.origin == "--passphrase-command")
        #expect(VaultUnlockSource.first(keyCommand: "", passphraseCommand: "") == nil)
        #expect(VaultUnlockSource.sourcesDescription.contains("SENDCLOUD_VAULT_KEY_COMMAND"))
        #expect(VaultUnlockSource.sourcesDescription.contains("SENDCLOUD_VAULT_PASSPHRASE_COMMAND"))
    }

    /// Whether `pid` exists and is not a zombie.
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(close, offsetBy: 2)...].prefix(1)
        return state != "Z" && state != "X"
    }
}
