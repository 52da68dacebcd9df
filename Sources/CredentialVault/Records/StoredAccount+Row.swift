import Foundation

// Decoding and encoding an account row: every check that turns a tampered row into an integrity error, in one
// place for every store.
extension StoredAccount {
    /// The latest date a stored timestamp may hold (9999-12-31T23:59:59Z); earlier than 1970 is malformed too.
    static let dateRange: ClosedRange<Double> = 0...DueAccountQuery.latestValidDate

    /// Decodes and validates `row`: name, mode, status, key id and generation (in `1..<maximumGeneration`) of the
    /// right class and in range, dates finite and between 1970 and 9999, the failure count NULL (0) or an integer
    /// in `0...Account.maximumConsecutiveFailures`, sealed columns NULL or bytes. Throws
    /// ``VaultError/Code/integrityFailure`` naming the account (its name cut to 128 characters) otherwise. The
    /// metadata is authenticated later, by opening a sealed value (``CredentialVault``).
    package init(row: AccountRow) throws(VaultError) {
        let account = try Account(metadataRow: row)
        var sealed: [SecretField: SealedValue] = [:]
        for field in SecretField.allCases {
            switch row[AccountColumn.sealed(field)] {
            case .null: continue
            case .blob(let bytes): sealed[field] = SealedValue(bytes: bytes)
            default: throw .integrity("the record of account '\(account.name)' has a malformed \(field)")
            }
        }
        guard let keyID = row[.keyID].integer.flatMap({ UInt32(exactly: $0) }) else {
            throw .integrity("the record of account '\(account.name)' is malformed")
        }
        self.init(account: account, keyID: keyID, sealed: sealed)
    }

    /// The row a store keeps.
    package var row: AccountRow {
        var row = account.metadataRow
        row[.keyID] = .integer(Int64(keyID))
        for (field, value) in sealed { row[AccountColumn.sealed(field)] = .blob(value.bytes) }
        return row
    }
}

extension Account {
    /// Decodes the metadata columns of `row` (see ``StoredAccount/init(row:)``); ``storedFields`` is left empty.
    package init(metadataRow row: AccountRow) throws(VaultError) {
        guard let rawName = row[.name].text else {
            throw .integrity("an account row has a name that is not text")
        }
        guard let name = try? AccountName(rawName),
            let mode = row[.mode].text.flatMap(AccountMode.init(rawValue:)),
            let status = row[.status].text.flatMap(AccountStatus.init(rawValue:)),
            let clientID = row[.clientID].text,
            let tokenURL = row[.tokenURL].text,
            let generation = row[.generation].integer,
            (1..<StoredAccount.maximumGeneration).contains(generation)
        else {
            throw .integrity("the record of account '\(rawName.prefix(128))' is malformed")
        }
        func text(_ column: AccountColumn) throws(VaultError) -> String? {
            switch row[column] {
            case .null: return nil
            case .text(let value): return value
            default: throw .integrity("the record of account '\(name)' has a malformed \(column.rawValue)")
            }
        }
        func date(_ column: AccountColumn) throws(VaultError) -> Date? {
            if row[column].isNull { return nil }
            guard let seconds = row[column].real, seconds.isFinite, StoredAccount.dateRange.contains(seconds) else {
                throw .integrity("the record of account '\(name)' has a malformed \(column.rawValue)")
            }
            return Date(timeIntervalSince1970: seconds)
        }
        func failures() throws(VaultError) -> Int {
            switch row[.consecutiveFailures] {
            case .null: return 0
            case .integer(let count) where (0...Int64(Account.maximumConsecutiveFailures)).contains(count):
                return Int(count)
            default:
                throw .integrity("the record of account '\(name)' has a malformed consecutive_failures")
            }
        }
        self.init(
            name: name,
            mode: mode,
            clientID: clientID,
            scopes: try text(.scopes),
            tokenURL: tokenURL,
            accessTokenExpiresAt: try date(.accessTokenExpiresAt),
            status: status,
            lastError: try text(.lastError),
            generation: generation,
            createdAt: try date(.createdAt) ?? Date(timeIntervalSince1970: 0),
            updatedAt: try date(.updatedAt) ?? Date(timeIntervalSince1970: 0),
            refreshedAt: try date(.refreshedAt),
            nextAttemptAt: try date(.nextAttemptAt),
            consecutiveFailures: try failures()
        )
    }

    /// The metadata columns of the row a store keeps (no key id, no sealed values).
    package var metadataRow: AccountRow {
        func date(_ date: Date?) -> StoreValue { date.map { .real($0.timeIntervalSince1970) } ?? .null }
        func text(_ text: String?) -> StoreValue { text.map { .text($0) } ?? .null }
        return AccountRow([
            .name: .text(name.rawValue), .mode: .text(mode.rawValue), .clientID: .text(clientID),
            .scopes: text(scopes), .tokenURL: .text(tokenURL), .accessTokenExpiresAt: date(accessTokenExpiresAt),
            .status: .text(status.rawValue), .lastError: text(lastError), .generation: .integer(generation),
            .createdAt: date(createdAt), .updatedAt: date(updatedAt), .refreshedAt: date(refreshedAt),
            .nextAttemptAt: date(nextAttemptAt), .consecutiveFailures: .integer(Int64(consecutiveFailures)),
        ])
    }
}
