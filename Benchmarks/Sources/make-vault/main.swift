// `make-vault DIR [--accounts N]`: a vault of N client-credentials accounts (a 40-byte client secret and a 1 KiB
// access token valid for a day, each), built through the library, at DIR/vault.sqlite with its key in DIR/vault.key
// (0600): for the scale figures of BENCHMARKS.md (scripts/bench-scale runs the CLI's `token`, `list`, `list --json`
// and `verify` on it).
import CredentialVault
import CredentialVaultSQLite
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

nonisolated func makeVault(in directory: String, accounts: Int) async throws {
    let logger = Logger(label: "make-vault") { _ in SwiftLogNoOpLogHandler() }
    try FileManager.default.createDirectory(
        atPath: directory,
        withIntermediateDirectories: true,
        attributes: [.posixPermissions: 0o700]
    )
    let key = KeyFileKey.generate()
    // 0600 from the start, and never over an existing file.
    let descriptor = open(directory + "/vault.key", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    precondition(
        descriptor >= 0,
        "make-vault: cannot create \(directory)/vault.key: \(String(cString: strerror(errno)))"
    )
    let written = key.base64Text().withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) == $0.count }
    precondition(written && close(descriptor) == 0, "make-vault: cannot write \(directory)/vault.key")
    let vault = try await CredentialVault.create(
        in: SQLiteCredentialStore(path: directory + "/vault.sqlite", create: true),
        slots: [.key(key)],
        logger: logger
    )
    let access = String(repeating: "a", count: 1024)
    for i in 0..<accounts {
        try await vault.addAccount(
            Account(
                name: try AccountName(String(format: "tenant-%06d", i)),
                mode: .clientCredentials,
                clientID: "client-\(i)",
                tokenURL: "https://account.sendcloud.com/oauth2/token",
                accessTokenExpiresAt: Date().addingTimeInterval(86400)
            ),
            secrets: AccountSecrets(
                clientSecret: SecureBytes(utf8: String(repeating: "s", count: 40)),
                accessToken: SecureBytes(utf8: access)
            )
        )
    }
}

let arguments = CommandLine.arguments.dropFirst()
guard let directory = arguments.first, !directory.hasPrefix("-") else {
    FileHandle.standardError.write(Data("usage: make-vault DIR [--accounts N]\n".utf8))
    exit(64)
}
let accounts =
    arguments.firstIndex(of: "--accounts").flatMap {
        arguments.index(after: $0) < arguments.endIndex ? Int(arguments[arguments.index(after: $0)]) : nil
    } ?? 100
try await makeVault(in: directory, accounts: accounts)
