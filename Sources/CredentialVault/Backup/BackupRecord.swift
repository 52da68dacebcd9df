import Foundation

/// How one account is stored in a backup chunk: its metadata field by field, then its three secrets.
///
/// `name, mode, client id, scopes?, token URL, access-token expiry?, status, last error?, generation (i64),
/// created, updated, refreshed?, next attempt?, consecutive failures (i64), client secret?, refresh token?,
/// access token?` — in that order, in ``BackupEncoder``'s encoding.
enum BackupRecord {
    static func encode(_ entry: ImportedAccount) -> SecureBytes {
        let account = entry.account
        var encoder = BackupEncoder()
        encoder.append(account.name.rawValue)
        encoder.append(account.mode.rawValue)
        encoder.append(account.clientID)
        encoder.append(account.scopes)
        encoder.append(account.tokenURL)
        encoder.append(account.accessTokenExpiresAt)
        encoder.append(account.status.rawValue)
        encoder.append(account.lastError)
        encoder.append(account.generation)
        encoder.append(account.createdAt)
        encoder.append(account.updatedAt)
        encoder.append(account.refreshedAt)
        encoder.append(account.nextAttemptAt)
        encoder.append(Int64(account.consecutiveFailures))
        for field in SecretField.allCases { encoder.append(secret: entry.secrets[field]) }
        return encoder.finish()
    }

    /// Decodes and validates one record: a valid name, a known mode and status, a generation a stored record can
    /// have, a failure count in range and a client secret. Anything else is an integrity failure.
    static func decode(_ plaintext: SecureBytes, what: String) throws(VaultError) -> ImportedAccount {
        var decoder = BackupDecoder(plaintext, what: what)
        let nameText = try decoder.string()
        let name: AccountName
        do { name = try AccountName(nameText) } catch { throw decoder.malformed("the account name is invalid") }
        let modeText = try decoder.string()
        guard let mode = AccountMode(rawValue: modeText) else { throw decoder.malformed("unknown mode") }
        let clientID = try decoder.string()
        let scopes = try decoder.optionalString()
        let tokenURL = try decoder.string()
        let expiresAt = try decoder.optionalDate()
        guard let status = AccountStatus(rawValue: try decoder.string()) else {
            throw decoder.malformed("unknown status")
        }
        let lastError = try decoder.optionalString()
        let generation = try decoder.int64()
        guard (1..<StoredAccount.maximumGeneration).contains(generation) else {
            throw decoder.malformed("generation \(generation) is out of range")
        }
        let createdAt = try decoder.date()
        let updatedAt = try decoder.date()
        let refreshedAt = try decoder.optionalDate()
        let nextAttemptAt = try decoder.optionalDate()
        let failures = try decoder.int64()
        guard (0...Int64(Account.maximumConsecutiveFailures)).contains(failures) else {
            throw decoder.malformed("the count of consecutive failures is out of range")
        }
        var secrets = AccountSecrets()
        for field in SecretField.allCases { secrets[field] = try decoder.optionalSecret() }
        try decoder.finish()
        guard secrets.clientSecret != nil else { throw decoder.malformed("'\(name)' has no client secret") }
        let account = Account(
            name: name,
            mode: mode,
            clientID: clientID,
            scopes: scopes,
            tokenURL: tokenURL,
            accessTokenExpiresAt: expiresAt,
            status: status,
            lastError: lastError,
            generation: generation,
            createdAt: createdAt,
            updatedAt: updatedAt,
            refreshedAt: refreshedAt,
            storedFields: Set(SecretField.allCases.filter { secrets[$0] != nil }),
            nextAttemptAt: nextAttemptAt,
            consecutiveFailures: Int(failures)
        )
        return ImportedAccount(account: account, secrets: secrets)
    }
}
