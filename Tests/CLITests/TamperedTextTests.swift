import Foundation
import Testing

/// Text planted in the vault file that a lenient decoder would read as something else (a NUL byte, invalid UTF-8),
/// and rows whose name is not text: `list` and `verify` say so (65) instead of repeating, skipping or repairing
/// accounts, and the sound accounts keep working.
@Suite(
    "tampered text in the vault file",
    .enabled(if: sqlite3Path != nil, "needs the sqlite3 command-line tool to tamper with the vault")
)
struct TamperedTextTests {
    @Test(
        "a name with a NUL byte or invalid UTF-8: list and verify exit 65, the other accounts still work",
        arguments: ["X'61636d650078'", "X'61636dff'"]
    )
    func undecodableName(bytes: String) async throws {
        let cli = try CLIHarness()
        let secrets = ["cs-tamper-acme-19ab", "cs-tamper-bolt-77c0", "rt-tamper-bolt-3e1d"]
        try await cli.seedTwoAccounts(secrets)
        try await cli.tamper("UPDATE account SET name = CAST(\(bytes) AS TEXT) WHERE name = 'acme'")

        let list = try await cli.vaultRun(["list"])
        expectFailure(list, 65)
        #expect(list.stderr.contains("an account row has a name that is not text"), "\(list)")
        #expect(list.stdout.isEmpty, "\(list)")
        let verify = try await cli.vaultRun(["verify"])
        expectFailure(verify, 65)
        #expect(verify.stdout.contains("an account row has a name that is not text"), "\(verify)")
        let bolt = try await cli.succeed(["show", "bolt", "--json"])
        #expect(bolt.jsonObject?["name"] as? String == "bolt")
        for result in [list, verify, bolt] { expectNoSecrets(result, secrets) }
    }

    @Test("a row whose name is a blob is not listed, and verify reports it (65)")
    func blobName() async throws {
        let cli = try CLIHarness()
        try await cli.seedTwoAccounts(["cs-blob-acme-5d21", "cs-blob-bolt-0c4e", "rt-blob-bolt-91fa"])
        try await cli.tamper("UPDATE account SET name = CAST('acme' AS BLOB) WHERE name = 'acme'")
        let listed = try #require(try await cli.succeed(["list", "--json"]).jsonArray)
        #expect(listed.compactMap { $0["name"] as? String } == ["bolt"])
        let verify = try await cli.vaultRun(["verify"])
        expectFailure(verify, 65)
        #expect(verify.stdout.contains("1 account row(s) have a name that is not text"), "\(verify)")
    }

    @Test("a value that cannot be read on the second page: list --json stops with 65 and never prints a closed array")
    func failureOnLaterPage() async throws {
        let (cli, names) = try await ListPagingTests.manyAccounts(600)
        let damaged = names[550]
        try await cli.tamper(
            "UPDATE account SET token_url = CAST(X'68747470733a2f2f782e6578616d706c65006a756e6b' AS TEXT) "
                + "WHERE name = '\(damaged)'"
        )
        let json = try await cli.vaultRun(["list", "--json"])
        expectFailure(json, 65)
        #expect(json.stdout.hasPrefix("[{"), "\(json.stdout.prefix(200))")
        // The first page was written; the array is left open, so no JSON parser takes it for the whole list.
        #expect(!json.stdout.contains("]"), "\(json.stdout.suffix(200))")
        #expect((try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) == nil)
        #expect(json.stderr.contains("'\(damaged)'"), "\(json.stderr)")

        let table = try await cli.vaultRun(["list"])
        expectFailure(table, 65)
        #expect(table.stdout.isEmpty, "the table is measured before a line is printed:\n\(table.stdout.prefix(200))")

        let verify = try await cli.vaultRun(["verify", "--json"])
        expectFailure(verify, 65)
        // One problem, naming the account; every other account was checked.
        let problems = try #require(verify.jsonObject?["problems"] as? [String], "\(verify)")
        #expect(problems.count == 1 && problems[0].contains("'\(damaged)'"), "\(problems)")
        #expect(verify.jsonObject?["accounts"] as? Int == names.count)
        #expect(try await cli.succeed(["show", names[0], "--json"]).jsonObject?["name"] as? String == names[0])
    }
}
