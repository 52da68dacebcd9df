import ArgumentParser
import CredentialVault
import CredentialVaultSQLite
import Dispatch
import SendcloudVaultService
import Synchronization

extension CompletionKind {
    /// Shell completion of account names: the names in the vault of the command line being completed (`--vault`,
    /// else `SENDCLOUD_VAULT`, else the default file), read from the store's metadata without unlocking — names are
    /// not secret, and a completion must not prompt. Only file vaults are read (a PostgreSQL vault would need a
    /// password and a round trip per keystroke); any problem completes nothing.
    static var accountNames: CompletionKind {
        .custom { arguments, _, prefix in
            var location = VaultLocation.environmentText()
            for (index, argument) in arguments.enumerated() {
                if argument == "--vault", index + 1 < arguments.count { location = arguments[index + 1] }
                if argument.hasPrefix("--vault=") { location = String(argument.dropFirst("--vault=".count)) }
            }
            guard case .file(let path) = try? VaultLocation(location),
                let store = try? SQLiteCredentialStore(path: path, create: false)
            else { return [] }
            // argument-parser's completion hook is synchronous here (the async variant needs its own main): wait
            // for the store's one query.
            let names = NamesBox()
            let done = DispatchSemaphore(value: 0)
            Task {
                let rows = (try? await store.accountRows()) ?? []
                names.value.withLock { $0 = rows.compactMap { $0[.name].text } }
                done.signal()
            }
            done.wait()
            return names.value.withLock { $0 }.filter { $0.hasPrefix(prefix) }
        }
    }
}

/// The names a completion found, handed from the task that read them.
private final class NamesBox: Sendable {
    let value = Mutex<[String]>([])
}
