import ArgumentParser
import CredentialVault
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Key: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Manage key slots (each wraps the data key; records are untouched).",
        subcommands: [KeyList.self, KeyAdd.self, KeyRemove.self]
    )
}

struct KeyList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List key slots.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let vault = try await global.openVault()
        let records = try await vault.slotRecords()
        let opened = vault.unlockedSlotID
        func detail(_ kind: KeySlot.Kind) -> String {
            if case .passphrase(_, let ops, let mem) = kind { return "argon2id ops=\(ops) mem=\(mem / 1_048_576)MiB" }
            return "-"
        }
        if global.json {
            Output.printJSON(
                records.map { record -> [String: Any] in
                    switch record {
                    case .success(let slot):
                        return [
                            "id": slot.id, "kind": slot.kind.name, "key_id": Int(slot.keyID), "kdf": detail(slot.kind),
                            "created_at": Output.iso8601(slot.createdAt), "unlocked_with": slot.id == opened,
                            "label": slot.label ?? NSNull(), "fingerprint": slot.fingerprint ?? NSNull(),
                        ]
                    case .failure(let error):
                        return ["damaged": true, "problem": error.message]
                    }
                }
            )
            return
        }
        var rows = [["ID", "LABEL", "KIND", "FINGERPRINT", "KDF", "CREATED"]]
        var damaged: [String] = []
        for record in records {
            switch record {
            case .success(let slot):
                rows.append([
                    "\(slot.id)\(slot.id == opened ? "*" : "")", slot.label ?? "-", slot.kind.name,
                    slot.fingerprint ?? "-", detail(slot.kind), slot.createdAt.formatted(.iso8601),
                ])
            case .failure(let error):
                damaged.append(error.message)
            }
        }
        print(Output.table(rows))
        print("(* unlocked this time; a key file's fingerprint is what 'key add' printed for it)")
        for problem in damaged { print("damaged: \(Output.inert(problem)) (skipped at unlock)") }
    }
}

struct KeyAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract:
            "Add a passphrase slot (--passphrase) or a key-file slot (--generate-key-file, --new-key-file or "
            + "--new-key-command).",
        discussion: """
            Unlock as usual (--key-command and --passphrase-command here unlock the vault; they do not name the \
            new slot's secret). The new passphrase of --passphrase comes from --new-passphrase-file, \
            SENDCLOUD_VAULT_NEW_PASSPHRASE_FILE, SENDCLOUD_VAULT_NEW_PASSPHRASE, --new-passphrase-command or is \
            asked twice. --new-key-command CMD adds a key-file slot for the base64 key CMD prints (run with \
            /bin/sh -c like --key-command), so the vault can later be unlocked with --key-command CMD.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var newPassphrase: NewPassphraseOptions

    @Flag(name: .long, help: "Add a passphrase slot; the passphrase comes as for 'passwd'.")
    var passphrase = false

    @Option(
        name: .long,
        help: ArgumentHelp("Write a new random key to this file (0600) and add a slot for it.", valueName: "path")
    )
    var generateKeyFile: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Add a key-file slot for the base64 key this command prints (run as --key-command is).",
            valueName: "command"
        )
    )
    var newKeyCommand: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Add a key-file slot for this existing key file (base64 of 32 bytes, mode 0600). --key-file, as in every "
                + "command, unlocks the vault.",
            valueName: "path"
        )
    )
    var newKeyFile: String?

    @Option(name: .long, help: "A name for the slot, shown by 'key list' (1-64 printable characters).")
    var label: String?

    func validate() throws {
        if let label, !KeySlot.isValidLabel(label) {
            throw ValidationError("--label is 1 to 64 printable characters")
        }
        let given = [passphrase, generateKeyFile != nil, newKeyCommand != nil, newKeyFile != nil]
        guard given.filter({ $0 }).count == 1 else {
            throw ValidationError(
                "give exactly one of --passphrase, --generate-key-file, --new-key-file and --new-key-command "
                    + "(--key-file unlocks the vault; --new-key-file PATH enrols an existing key file)"
            )
        }
    }

    func run() async throws {
        let input = SecretInput()
        let vault = try await global.openVault(input)
        let slot: KeySlot
        if let generateKeyFile {
            let key = KeyFileKey.generate()
            try KeyFileWriter.create(key, at: generateKeyFile)
            do { slot = try await vault.addSlot(.key(key), label: label) } catch {
                unlink(generateKeyFile)
                throw error
            }
        } else if let newKeyFile {
            guard case .key(let key) = try input.unlockSecret(from: .keyFile(path: newKeyFile)) else {
                throw CLIError.failure("--new-key-file did not yield a key")
            }
            slot = try await vault.addSlot(.key(key), label: label)
        } else if let newKeyCommand {
            let command = SecretCommand(
                newKeyCommand,
                origin: "--new-key-command",
                timeout: SecretCommand.environmentTimeout
            )
            guard case .key(let key) = try input.unlockSecret(from: .keyCommand(command)) else {
                throw CLIError.failure("--new-key-command did not yield a key")
            }
            slot = try await vault.addSlot(.key(key), label: label)
        } else {
            slot = try await vault.addSlot(
                .passphrase(try newPassphrase.read(input), newPassphrase.kdf.limits),
                label: label
            )
        }
        if global.json {
            Output.printJSON(
                [
                    "id": slot.id, "kind": slot.kind.name, "label": slot.label ?? NSNull(),
                    "fingerprint": slot.fingerprint ?? NSNull(),
                ] as [String: Any]
            )
        } else {
            let details = [slot.label.map { "'\(Output.inert($0))'" }, slot.fingerprint.map { "fingerprint \($0)" }]
                .compactMap { $0 }
            print(
                "Added key slot \(slot.id) (\(slot.kind.name)\(details.isEmpty ? "" : ", " + details.joined(separator: ", ")))."
            )
        }
    }
}

struct KeyRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a key slot (not the last)."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Slot id, as 'key list' shows it.")
    var id: Int64

    func run() async throws {
        let vault = try await global.openVault()
        try await vault.removeSlot(id: id)
        if global.json {
            Output.printJSON(["removed": id])
        } else {
            print("Removed key slot \(id).")
        }
    }
}
