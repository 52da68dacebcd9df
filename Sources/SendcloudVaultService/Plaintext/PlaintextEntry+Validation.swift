import CredentialVault

extension PlaintextEntry {
    /// Every entry validated, or every problem found: the entries are all valid, no name appears twice, or nothing is
    /// returned but the problems (in entry order), so that one bad entry imports nothing.
    public static func validateAll(
        _ entries: [PlaintextEntry],
        defaultTokenURL: String
    ) -> Result<[Validated], ValidationFailure> {
        var problems: [Problem] = []
        var valid: [Validated] = []
        var seen: [AccountName: Int] = [:]
        for entry in entries {
            do throws(Problem) {
                let validated = try entry.validated(defaultTokenURL: defaultTokenURL)
                let name = validated.imported.account.name
                if let earlier = seen[name] {
                    throw Problem(index: entry.index, name: name, message: "the name appears in entry \(earlier) too")
                }
                seen[name] = entry.index
                valid.append(validated)
            } catch {
                problems.append(error)
            }
        }
        guard problems.isEmpty else {
            return .failure(ValidationFailure(problems: problems, entryCount: entries.count))
        }
        return .success(valid)
    }

    /// The problems of ``validateAll(_:defaultTokenURL:)``: at least one.
    public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
        /// Every problem, in entry order.
        public var problems: [Problem]
        /// How many entries the source holds.
        public var entryCount: Int

        /// `2 of 4 entries have problems; nothing was imported`.
        public var description: String {
            "\(problems.count) of \(entryCount) entries have problems; nothing was imported"
        }
    }
}
