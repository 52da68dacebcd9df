import CredentialVault
import Foundation
package import FuzzSupport

/// The vault's decoders of stored bytes: a sealed record value, a `key_slot` row, an `account` row.
///
/// Keys and ids are fixed, so that the committed seeds (sealed under them) keep opening.
package enum VaultFuzzTargets {
    /// The fixed vault id.
    static let vaultID: [UInt8] = (0..<16).map { UInt8($0) &* 17 &+ 5 }
    /// The fixed data key (id 1): 32 bytes drawn once from /dev/urandom.
    static let dataKeyBytes: [UInt8] = [
        0xD2, 0x27, 0x48, 0x29, 0xD9, 0x18, 0x42, 0xC8, 0x36, 0x7C, 0x84, 0xEE, 0x70, 0x2A, 0x4A, 0xBD,
        0x1A, 0x67, 0x8F, 0xC1, 0x91, 0x4F, 0xB1, 0x2F, 0x27, 0x5F, 0x6E, 0x8B, 0x6D, 0xA9, 0x3A, 0x15,
    ]
    /// The fixed key-file key that wraps the data key in the slot seed.
    static let wrappingKeyBytes: [UInt8] = dataKeyBytes.reversed().map { $0 ^ 0x5A }
    static let dataKey = DataKey(id: 1, bytes: secure(dataKeyBytes))
    static let wrappingKey = secure(wrappingKeyBytes)
    /// The metadata every sealed-value input is opened with.
    static let metadata = AuthenticatedMetadata(
        Account(
            name: "acme-shop",
            mode: .refreshToken,
            clientID: "6a1f3c2e-1b7d-4f0a-9c55-2d8e0b4f7a91",
            scopes: "api",
            tokenURL: "https://account.sendcloud.com/oauth2/token",
            generation: 7
        ),
        fields: [.clientSecret, .refreshToken]
    )
    /// The account and field every sealed-value input is opened for.
    static let sealingContext = SealingContext(
        vaultID: vaultID,
        keyID: 1,
        account: "acme-shop",
        field: .refreshToken,
        metadata: metadata
    )

    /// The input is the stored bytes of a sealed value; `RecordCipher.open` must open it or throw `VaultError`.
    /// Accepted only when it opens.
    package static let sealedValue = FuzzTarget(name: "fuzz-sealed-value", seeds: sealedValueSeeds) { bytes in
        do throws(VaultError) {
            let plaintext = try RecordCipher.open(SealedValue(bytes: bytes), key: dataKey, context: sealingContext)
            // version (1) ‖ nonce (24) ‖ ciphertext ‖ tag (16)
            guard plaintext.count == bytes.count - 41 else {
                return .unexpected("opened \(bytes.count) bytes into \(plaintext.count) bytes of plaintext")
            }
            return .accepted
        } catch {
            return .rejected
        }
    }

    /// The input is a `key_slot` row (``FuzzRow`` format): `KeySlot(row:)` (the core's decoder, the same for every store) then `SlotCipher.unwrap` must return or
    /// throw `VaultError`. Accepted only when the data key comes out.
    package static let keySlot = FuzzTarget(name: "fuzz-key-slot", seeds: keySlotSeeds) { bytes in
        var input = FuzzInput(bytes)
        let row = FuzzRow.read(KeySlotColumn.self, from: &input)
        let slot: KeySlot
        do { slot = try KeySlot(row: row) } catch is VaultError { return .rejected } catch {
            return .unexpected("KeySlot(row:) threw \(type(of: error)): \(error)")
        }
        _ = slot.kind.name
        if case .passphrase(_, let ops, let mem) = slot.kind {
            // The bounds check the unlock path runs before Argon2id (the KDF itself is not fuzzed: too slow).
            _ = try? KDFLimits(opsLimit: ops, memLimit: mem)
        }
        do throws(VaultError) {
            guard let key = try SlotCipher.unwrap(slot, wrappingKey: wrappingKey, vaultID: vaultID) else {
                return .rejected
            }
            guard key.id == slot.keyID, key.bytes.count == 32 else {
                return .unexpected("unwrapped key \(key.id) of \(key.bytes.count) bytes from slot key \(slot.keyID)")
            }
            return .accepted
        } catch {
            return .rejected
        }
    }

    /// The input is an `account` row (``FuzzRow`` format): `StoredAccount(row:)` must return or throw `VaultError`;
    /// each sealed value it holds is then opened as the vault would. Accepted when the row decodes and every
    /// sealed value in it opens.
    package static let accountRow = FuzzTarget(name: "fuzz-account-row", seeds: accountRowSeeds) { bytes in
        var input = FuzzInput(bytes)
        let row = FuzzRow.read(AccountColumn.self, from: &input)
        let record: StoredAccount
        do { record = try StoredAccount(row: row) } catch is VaultError { return .rejected } catch {
            return .unexpected("StoredAccount(row:) threw \(type(of: error)): \(error)")
        }
        _ = "\(record.account)"
        // Opened exactly as the vault opens a record (metadata bound), legacy values refused.
        do throws(VaultError) {
            _ = try CredentialVault.open(record, key: dataKey, vaultID: vaultID, acceptingLegacy: false)
            return .accepted
        } catch {
            return .rejected
        }
    }

    /// Every target of this module.
    package static let all = [sealedValue, keySlot, accountRow]

    // MARK: - Seeds

    private static func secure(_ bytes: [UInt8]) -> SecureBytes { bytes.withUnsafeBytes { SecureBytes(copying: $0) } }

    private static func seal(
        _ text: String,
        account: AccountName,
        field: SecretField,
        metadata: AuthenticatedMetadata = metadata
    ) -> [UInt8] {
        let context = SealingContext(vaultID: vaultID, keyID: 1, account: account, field: field, metadata: metadata)
        return RecordCipher.seal(SecureBytes(utf8: text), key: dataKey, context: context).bytes
    }

    private static func sealedValueSeeds() -> [(name: String, bytes: [UInt8])] {
        [
            (
                "sealed-refresh-token.bin",
                seal("ory_rt_8dF2kQx0cYbVw3nH5mJ7pLs9tRa1uEo4iGzKy6", account: "acme-shop", field: .refreshToken)
            ),
            ("sealed-empty.bin", seal("", account: "acme-shop", field: .refreshToken)),
            ("near-miss-other-account.bin", seal("ory_rt_other", account: "other-shop", field: .refreshToken)),
        ]
    }

    private static func keySlotSeeds() -> [(name: String, bytes: [UInt8])] {
        let passphrase = SlotSealing.Passphrase(salt: (0..<16).map { $0 &* 11 }, opsLimit: 2, memLimit: 67_108_864)
        func wrapped(_ passphrase: SlotSealing.Passphrase?) -> [UInt8] {
            SlotSealing.wrap(
                dataKey: dataKeyBytes,
                keyID: 1,
                vaultID: vaultID,
                passphrase: passphrase,
                wrappingKey: wrappingKeyBytes
            )
        }
        let keyFileRow = FuzzRow.encode([
            .integer(1), .text("key-file"), .null, .null, .null, .integer(1), .blob(wrapped(nil)), .real(1_764_590_400),
        ])
        let passphraseRow = FuzzRow.encode([
            .integer(2), .text("passphrase"), .blob(passphrase.salt), .integer(Int64(passphrase.opsLimit)),
            .integer(Int64(passphrase.memLimit)), .integer(1), .blob(wrapped(passphrase)), .real(1_764_590_400.5),
        ])
        return [("slot-key-file.bin", keyFileRow), ("slot-passphrase.bin", passphraseRow)]
    }

    private static func accountRowSeeds() -> [(name: String, bytes: [UInt8])] {
        let name: AccountName = "acme-shop"
        var full = metadata
        full.fields = [.clientSecret, .refreshToken, .accessToken]
        let refreshMode = FuzzRow.encode([
            .text(name.rawValue), .text("refresh-token"), .text("6a1f3c2e-1b7d-4f0a-9c55-2d8e0b4f7a91"), .text("api"),
            .text("https://account.sendcloud.com/oauth2/token"), .integer(1),
            .blob(seal("sc-secret-7Hq2", account: name, field: .clientSecret, metadata: full)),
            .blob(
                seal(
                    "ory_rt_8dF2kQx0cYbVw3nH5mJ7pLs9tRa1uEo4iGzKy6",
                    account: name,
                    field: .refreshToken,
                    metadata: full
                )
            ),
            .blob(seal("ory_at_Jx3v9", account: name, field: .accessToken, metadata: full)), .real(1_764_594_000),
            .text("ok"), .null, .integer(7), .real(1_764_590_400), .real(1_764_590_400), .real(1_764_590_400),
        ])
        let basic = AuthenticatedMetadata(
            Account(
                name: "shop-2",
                mode: .basic,
                clientID: "public-key-1",
                tokenURL: "https://panel.sendcloud.sc/",
                generation: 1
            ),
            fields: [.clientSecret]
        )
        let basicMode = FuzzRow.encode([
            .text("shop-2"), .text("basic"), .text("public-key-1"), .null, .text("https://panel.sendcloud.sc/"),
            .integer(1), .blob(seal("secret-key-1", account: "shop-2", field: .clientSecret, metadata: basic)), .null,
            .null, .null, .text("reauth-required"), .text("invalid_grant"), .integer(1), .real(0), .real(0), .null,
        ])
        return [("account-refresh-token.bin", refreshMode), ("account-basic.bin", basicMode)]
    }
}
