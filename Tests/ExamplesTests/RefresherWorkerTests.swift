import CredentialVault
import SendcloudTesting
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The built `refresher-worker` against an in-process fake Sendcloud and a real SQLite vault.
@Suite("refresher-worker, end to end")
struct RefresherWorkerTests {
    @Test("refreshes a due tenant, logs its event, and exits 0 on SIGTERM")
    func refreshesAndLogsEvents() async throws {
        let vault = try await ExampleVault.make()
        try await withFakeSendcloud(clients: ["integration": "integration-secret-19fe"]) { sendcloud in
            let refreshToken = sendcloud.issueRefreshToken(clientID: "integration")
            try await vault.vault.addAccount(
                Account(name: "acme", mode: .refreshToken, clientID: "integration", tokenURL: sendcloud.tokenURL),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: "integration-secret-19fe"),
                    refreshToken: SecureBytes(utf8: refreshToken)
                )
            )
            try await vault.vault.addAccount(
                Account(name: "gone", mode: .refreshToken, clientID: "integration", tokenURL: sendcloud.tokenURL),
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: "integration-secret-19fe"),
                    refreshToken: SecureBytes(utf8: "never-issued-refresh-token")
                )
            )
            let worker = try BinaryProcess(
                "refresher-worker",
                environment: vault.environment.merging(["SENDCLOUD_VAULT_REFRESHER_JITTER_SECONDS": "0"]) { $1 },
                in: vault.directory
            )
            try await worker.waitForLine(onStderr: true) { $0.contains("event=acme: refreshed") ? true : nil }
            try await worker.waitForLine(onStderr: true) {
                $0.contains("event=gone: re-authorization required") ? true : nil
            }
            worker.send(SIGTERM)
            let exit = try await worker.exit()
            #expect(exit.status == 0 && !exit.signalled, "\(worker.transcript)")
            #expect(worker.stderr.contains("refresher-worker stopped"))

            let (account, secrets) = try await vault.vault.openAccount(named: "acme")
            #expect(account.accessTokenExpiresAt != nil)
            let accessToken = try #require(secrets.accessToken?.unsafeStringValue())
            #expect(sendcloud.isAccessTokenValid(accessToken))
            #expect(try await vault.vault.account(named: "gone").status == .reauthRequired)
            for secret in [accessToken, refreshToken, secrets.refreshToken?.unsafeStringValue() ?? "-", "19fe"] {
                #expect(!worker.output.contains(secret))
            }
        }
    }
}
