import ArgumentParser
import CredentialVault

struct RotateKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Make a new data key and reseal every record under it, in one transaction.",
        discussion: """
            The new key is wrapped under the slot that unlocked the vault. Other slots wrap the old key and cannot \
            be rewrapped without their secrets: with other slots present, rotate-key refuses unless \
            --drop-other-slots is given; add them again afterwards with 'key add'.

            Rotation takes every account's lock first: it waits for refreshes in flight to store their tokens \
            (up to --lock-timeout, then exit 75 with nothing changed), and refreshes wait while it runs.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Remove every slot except the one used to unlock.")
    var dropOtherSlots = false

    @Option(name: .long, help: "Wait this long for refreshes in flight (90s, 5m).")
    var lockTimeout = DurationArgument(.seconds(60))

    func run() async throws {
        let vault = try await global.openVault()
        let before = try await vault.slotRecords()
        do {
            try await vault.rotateDataKey(dropOtherSlots: dropOtherSlots, lockTimeout: lockTimeout.duration)
        } catch let error as VaultError where error.code == .invalidInput && !dropOtherSlots {
            throw CLIError.usage(
                "\(before.count - 1) other key slot(s) wrap the current data key and would stop working: rerun with "
                    + "--drop-other-slots (it removes them; add them again afterwards with 'key add'), "
                    + "see 'key list'"
            )
        }
        let kept = Set(try await vault.slots().map(\.id))
        var removed: [[String: Any]] = []
        var damaged = 0
        for record in before {
            switch record {
            case .success(let slot) where !kept.contains(slot.id):
                removed.append(["id": slot.id, "kind": slot.kind.name])
            case .failure:
                damaged += 1
            default:
                break
            }
        }
        let count = try await vault.accounts().count
        if global.json {
            Output.printJSON(
                ["rotated": true, "accounts": count, "removed_slots": removed, "removed_damaged_slots": damaged]
                    as [String: Any]
            )
        } else {
            print("Data key rotated; \(count) account(s) resealed.")
            for slot in removed {
                print("Removed key slot \(slot["id"]!) (\(slot["kind"]!)); add it again with 'key add'.")
            }
            if damaged > 0 { print("Removed \(damaged) damaged key slot(s).") }
        }
    }
}
