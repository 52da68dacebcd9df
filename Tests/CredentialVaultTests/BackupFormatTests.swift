import Foundation
import Testing

@testable import CredentialVault

/// Cheapest Argon2id limits libsodium accepts: passphrase backups in tests without the interactive cost.
private let quickKDF = try! KDFLimits(opsLimit: 1, memLimit: 8192)

/// The sealed backup format (``VaultBackup``): what it keeps, and that a wrong secret is told apart from damage.
@Suite("Backup format")
struct BackupFormatTests {
    /// Three accounts covering every field: all optionals set, none set, reauth-required with backoff.
    static func sampleEntries() -> [ImportedAccount] {
        let base = Date(timeIntervalSince1970: 1_800_000_000.123_456)
        let full = Account(
            name: "acme-shop",
            mode: .refreshToken,
            clientID: "acme-public",
            scopes: "api offline_access",
            tokenURL: "https://account.sendcloud.com/oauth2/token",
            accessTokenExpiresAt: base.addingTimeInterval(3600.5),
            status: .ok,
            lastError: nil,
            generation: 42,
            createdAt: base,
            updatedAt: base.addingTimeInterval(10),
            refreshedAt: base.addingTimeInterval(20),
            storedFields: [.clientSecret, .refreshToken, .accessToken],
            nextAttemptAt: nil,
            consecutiveFailures: 0
        )
        let minimal = Account(
            name: "bolt",
            mode: .clientCredentials,
            clientID: "bolt-public",
            tokenURL: "http://127.0.0.1:9/oauth2/token",
            generation: 1,
            createdAt: base,
            updatedAt: base,
            storedFields: [.clientSecret]
        )
        let failing = Account(
            name: "crate@eu",
            mode: .basic,
            clientID: "crate ünïcode",
            scopes: "",
            tokenURL: "https://example.test/token",
            status: .reauthRequired,
            lastError: "invalid_grant: the refresh token was revoked\n(line two)",
            generation: StoredAccount.maximumGeneration - 1,
            createdAt: base.addingTimeInterval(-86400),
            updatedAt: base,
            refreshedAt: nil,
            storedFields: [.clientSecret, .accessToken],
            nextAttemptAt: base.addingTimeInterval(600),
            consecutiveFailures: 7
        )
        return [
            ImportedAccount(
                account: full,
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: "CS-acme-7d1f"),
                    refreshToken: SecureBytes(utf8: "RT-acme-91aa"),
                    accessToken: SecureBytes(utf8: "AT-acme-0c3e")
                )
            ),
            ImportedAccount(account: minimal, secrets: AccountSecrets(clientSecret: SecureBytes(utf8: "CS-bolt-55e2"))),
            ImportedAccount(
                account: failing,
                secrets: AccountSecrets(
                    clientSecret: SecureBytes(utf8: "CS-crate-ab12"),
                    accessToken: SecureBytes([UInt8](repeating: 0x41, count: 70_000))
                )
            ),
        ]
    }

    static let secretTexts = ["CS-acme-7d1f", "RT-acme-91aa", "AT-acme-0c3e", "CS-bolt-55e2", "CS-crate-ab12"]

    static let vaultID: [UInt8] = Array(repeating: 0x5A, count: 16)

    func sealed(_ secret: BackupSecret, entries: [ImportedAccount] = sampleEntries()) throws -> [UInt8] {
        try VaultBackup(accounts: entries, sourceVaultID: Self.vaultID, exportedAt: Date(timeIntervalSince1970: 1.5))
            .sealed(with: secret, limits: quickKDF)
    }

    func expectSame(_ opened: [ImportedAccount], _ original: [ImportedAccount]) {
        #expect(opened.count == original.count)
        for (a, b) in zip(opened, original) {
            #expect(a.account == b.account, "\(a.account.name)")
            for field in SecretField.allCases {
                #expect(a.secrets[field] == b.secrets[field], "\(a.account.name) \(field)")
            }
        }
    }

    /// The offsets where each chunk's length field starts, read from the layout.
    static func chunkOffsets(_ bytes: [UInt8]) -> [Int] {
        var offsets: [Int] = []
        var offset = BackupHeader.size
        while offset < bytes.count {
            offsets.append(offset)
            let length = bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
            offset += 4 + length
        }
        return offsets
    }

    @Test("a key-file backup round-trips every field and secret, exactly (dates to the bit, a 70 KB token)")
    func roundTripKey() throws {
        let key = KeyFileKey.generate()
        let bytes = try sealed(.key(key))
        let opened = try VaultBackup.open(bytes, with: .key(key))
        expectSame(opened.accounts, Self.sampleEntries())
        #expect(opened.sourceVaultID == Self.vaultID)
        #expect(opened.exportedAt == Date(timeIntervalSince1970: 1.5))
        #expect(Array(bytes[0..<8]) == Array("SCVBACKP".utf8))
        #expect(bytes[8] == 1 && bytes[9] == BackupSecret.Kind.keyFile.rawValue)
        #expect(Self.chunkOffsets(bytes).count == 4, "a manifest and one chunk per account")
    }

    @Test("a passphrase backup round-trips and records its salt and Argon2id limits in the header")
    func roundTripPassphrase() throws {
        let passphrase = SecureBytes(utf8: "correct horse battery staple")
        let bytes = try sealed(.passphrase(passphrase))
        let (header, _) = try BackupHeader.parse(bytes)
        #expect(header.kind == .passphrase)
        #expect(header.limits == quickKDF)
        #expect(header.salt.count == 16)
        expectSame(try VaultBackup.open(bytes, with: .passphrase(passphrase)).accounts, Self.sampleEntries())
        // Two backups of the same data differ everywhere after the magic: fresh salt and stream header.
        let again = try sealed(.passphrase(passphrase))
        #expect(Array(bytes[10..<26]) != Array(again[10..<26]))
        #expect(Array(bytes[42..<66]) != Array(again[42..<66]))
    }

    @Test("an empty vault's backup opens to no accounts (its manifest is the final chunk)")
    func emptyBackup() throws {
        let key = KeyFileKey.generate()
        let bytes = try sealed(.key(key), entries: [])
        #expect(Self.chunkOffsets(bytes).count == 1)
        #expect(try VaultBackup.open(bytes, with: .key(key)).accounts.isEmpty)
    }

    @Test("the wrong key, the wrong passphrase or the other kind of secret → wrongKey, never integrityFailure")
    func wrongSecret() throws {
        let key = KeyFileKey.generate()
        let keyed = try sealed(.key(key))
        expectVaultError(.wrongKey) { try VaultBackup.open(keyed, with: .key(KeyFileKey.generate())) }
        expectVaultError(.wrongKey) { try VaultBackup.open(keyed, with: .passphrase(SecureBytes(utf8: "pw"))) }
        let passphrased = try sealed(.passphrase(SecureBytes(utf8: "right")))
        expectVaultError(.wrongKey) { try VaultBackup.open(passphrased, with: .passphrase(SecureBytes(utf8: "wrong"))) }
        expectVaultError(.wrongKey) { try VaultBackup.open(passphrased, with: .key(key)) }
    }

    @Test("a flipped bit at every offset, of a key-file and of a passphrase backup → integrityFailure")
    func everyFlippedByte() throws {
        let key = KeyFileKey.generate()
        let passphrase = SecureBytes(utf8: "flip-test")
        let entries = Array(Self.sampleEntries().prefix(2))
        for secret in [BackupSecret.key(key), .passphrase(passphrase)] {
            let bytes = try sealed(secret, entries: entries)
            var failures = 0
            for offset in bytes.indices {
                for bit in [UInt8(0x01), 0x80] {
                    var damaged = bytes
                    damaged[offset] ^= bit
                    do {
                        _ = try VaultBackup.open(damaged, with: secret)
                        Issue.record("a flip at \(offset) (bit \(bit)) opened")
                    } catch {
                        if error.code != .integrityFailure {
                            Issue.record("a flip at \(offset) gave \(error)")
                        } else {
                            failures += 1
                        }
                    }
                }
            }
            #expect(failures == bytes.count * 2)
        }
    }

    @Test("every truncation, and any byte appended → integrityFailure")
    func truncatedOrExtended() throws {
        let key = KeyFileKey.generate()
        let bytes = try sealed(.key(key), entries: Array(Self.sampleEntries().prefix(2)))
        for length in 0..<bytes.count {
            expectVaultError(.integrityFailure) { try VaultBackup.open(Array(bytes[0..<length]), with: .key(key)) }
        }
        expectVaultError(.integrityFailure) { try VaultBackup.open(bytes + [0], with: .key(key)) }
        expectVaultError(.integrityFailure) {
            try VaultBackup.open(bytes + bytes[BackupHeader.size...], with: .key(key))
        }
    }

    @Test("a chunk dropped, repeated or two chunks swapped → integrityFailure")
    func reorderedChunks() throws {
        let key = KeyFileKey.generate()
        let bytes = try sealed(.key(key))
        let offsets = Self.chunkOffsets(bytes) + [bytes.count]
        let header = Array(bytes[0..<BackupHeader.size])
        let chunks = (0..<(offsets.count - 1)).map { Array(bytes[offsets[$0]..<offsets[$0 + 1]]) }
        #expect(chunks.count == 4)
        let variants: [(String, [[UInt8]])] = [
            ("drop the last", Array(chunks.dropLast())),
            ("drop a middle one", [chunks[0], chunks[1], chunks[3]]),
            ("drop the manifest", Array(chunks.dropFirst())),
            ("repeat one", [chunks[0], chunks[1], chunks[1], chunks[2], chunks[3]]),
            ("swap two", [chunks[0], chunks[2], chunks[1], chunks[3]]),
        ]
        for (name, parts) in variants {
            let error = expectVaultError(.integrityFailure) {
                try VaultBackup.open(header + parts.joined(), with: .key(key))
            }
            #expect(error != nil, "\(name)")
        }
        // The same chunks under another backup's header (another stream) do not open either.
        let other = try sealed(.key(key))
        expectVaultError(.integrityFailure) {
            try VaultBackup.open(Array(other[0..<BackupHeader.size]) + chunks.joined(), with: .key(key))
        }
    }

    @Test(
        "hostile headers: out-of-bounds Argon2id limits are refused before any KDF work, a huge chunk length before any allocation"
    )
    func hostileSizes() throws {
        // A passphrase header asking for 64 GiB, with a checksum that matches: refused at once.
        let header = BackupHeader(
            kind: .passphrase,
            salt: Array(repeating: 1, count: 16),
            limits: nil,
            streamHeader: Array(repeating: 2, count: 24)
        )
        var fields = header.fields()
        fields.replaceSubrange(26..<42, with: [0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 16, 0, 0, 0, 0])
        var bytes = fields + [UInt8](repeating: 0, count: 32)
        bytes += Sodium.checksum(bytes)
        let started = ContinuousClock.now
        let error = expectVaultError(.integrityFailure) {
            try VaultBackup.open(bytes, with: .passphrase(SecureBytes(utf8: "pw")))
        }
        #expect(error?.message.contains("KDF") == true, "\(String(describing: error))")
        #expect(ContinuousClock.now - started < .seconds(1))
        // A key-file header followed by a chunk claiming 4 GiB.
        let key = KeyFileKey.generate()
        let real = try sealed(.key(key))
        var huge = Array(real[0..<BackupHeader.size]) + [0xFF, 0xFF, 0xFF, 0xFF]
        huge += [UInt8](repeating: 0, count: 64)
        let chunkError = expectVaultError(.integrityFailure) { try VaultBackup.open(huge, with: .key(key)) }
        #expect(chunkError?.message.contains("length") == true, "\(String(describing: chunkError))")
    }

    @Test("a manifest announcing more accounts than a backup may hold, or fewer than follow → integrityFailure")
    func manifestCounts() throws {
        let key = KeyFileKey.generate()
        func craft(announcing count: Int, records: [ImportedAccount]) throws -> [UInt8] {
            var header = BackupHeader(kind: .keyFile, salt: Sodium.randomBytes(16), limits: nil, streamHeader: [])
            let keys = try BackupKeys.derive(.key(key), for: header)
            let sealer = Sodium.SecretStreamSealer(key: keys.streamKey)
            header.streamHeader = sealer.header
            let headerBytes = header.encoded(keyCheck: keys.keyCheck(of: header.fields()).bytes)
            var out = headerBytes
            let manifest = BackupManifest(exportedAt: Date(), sourceVaultID: [], accountCount: count)
            let chunks =
                [sealer.seal(manifest.encoded(), ad: headerBytes, final: records.isEmpty)]
                + records.enumerated().map { index, entry in
                    sealer.seal(BackupRecord.encode(entry), ad: [], final: index == records.count - 1)
                }
            for chunk in chunks {
                out.appendBigEndian(UInt32(chunk.count))
                out += chunk
            }
            return out
        }
        let entries = Self.sampleEntries()
        #expect(try VaultBackup.open(try craft(announcing: 3, records: entries), with: .key(key)).accounts.count == 3)
        for (count, records) in [(BackupManifest.maximumAccounts + 1, []), (2, entries), (4, entries), (0, entries)] {
            expectVaultError(.integrityFailure) {
                try VaultBackup.open(try craft(announcing: count, records: records), with: .key(key))
            }
        }
        // The same name twice.
        expectVaultError(.integrityFailure) {
            try VaultBackup.open(try craft(announcing: 2, records: [entries[0], entries[0]]), with: .key(key))
        }
    }

    @Test("a vault key file reused as the backup key derives other keys: the stream key is not the key file's key")
    func domainSeparation() throws {
        let key = KeyFileKey.generate()
        let header = BackupHeader(kind: .keyFile, salt: Sodium.randomBytes(16), limits: nil, streamHeader: [])
        let keys = try BackupKeys.derive(.key(key), for: header)
        #expect(keys.streamKey != key.bytes)
        #expect(keys.checkKey != key.bytes)
        #expect(keys.streamKey != keys.checkKey)
        var otherSalt = header
        otherSalt.salt = Sodium.randomBytes(16)
        #expect(try BackupKeys.derive(.key(key), for: otherSalt).streamKey != keys.streamKey)
        // A vault's key-file slot wraps with the key itself, so a backup under it never shares a key with the vault.
        let (slot, wrappingKey) = try SlotCipher.makeSlot(
            .key(key),
            wrapping: DataKey.generate(id: 1),
            vaultID: Self.vaultID
        )
        #expect(slot.kind == .keyFile)
        #expect(wrappingKey != keys.streamKey)
    }

    @Test("the sealed bytes hold no secret, passphrase or key in clear")
    func noSecretInClear() throws {
        let key = KeyFileKey.generate()
        let passphrase = "pass-PHRASE-in-clear-9"
        let keyText = key.base64Text().bytes
        let raw = key.bytes.bytes
        for bytes in [try sealed(.key(key)), try sealed(.passphrase(SecureBytes(utf8: passphrase)))] {
            for secret in Self.secretTexts + [passphrase] {
                #expect(!contains(bytes, Array(secret.utf8)), "\(secret) in clear")
            }
            #expect(!contains(bytes, Array(keyText.prefix(43))))
            #expect(!contains(bytes, raw))
            #expect(!contains(bytes, [UInt8](repeating: 0x41, count: 64)), "the long token in clear")
        }
    }

    @Test("a record over the size limit, or an account without a client secret, is refused when sealing")
    func sealingLimits() throws {
        var entries = Array(Self.sampleEntries().prefix(1))
        entries[0].secrets.accessToken = SecureBytes([UInt8](repeating: 0x42, count: VaultBackup.maximumRecordSize))
        expectVaultError(.invalidInput) { try sealed(.key(KeyFileKey.generate()), entries: entries) }
        entries = Array(Self.sampleEntries().prefix(1))
        entries[0].secrets.clientSecret = nil
        expectVaultError(.invalidInput) { try sealed(.key(KeyFileKey.generate()), entries: entries) }
    }

    func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }
}
