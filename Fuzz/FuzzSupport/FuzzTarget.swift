/// What one input did to a decoder.
package enum FuzzOutcome: Sendable, Equatable {
    /// The decoder returned a value (and the target's checks on it held).
    case accepted
    /// The decoder threw the error type it is documented to throw.
    case rejected
    /// Anything else: another error type, or a decoded value that breaks a documented bound. A bug; the fuzz
    /// entry point traps on it so that libFuzzer records the input.
    case unexpected(String)
}

/// One fuzz target: a name (the executable's and the corpus folder's) and the function that feeds it bytes.
///
/// The same function is called by the libFuzzer entry point, by the corpus-replay executable and by the
/// `FuzzCorpusTests` of the test targets, so that the three cannot drift apart.
package struct FuzzTarget: Sendable, CustomStringConvertible {
    /// `fuzz-…`: the product name and the folder under `Fuzz/Corpus` and `Fuzz/Regressions`.
    package let name: String
    /// Feeds one input to the code under test.
    package let run: @Sendable ([UInt8]) -> FuzzOutcome
    /// Inputs built with the real API (a genuinely sealed value, a row the store would write); the replay
    /// executable writes them with `--write-seeds DIR`.
    package let seeds: @Sendable () -> [(name: String, bytes: [UInt8])]

    package init(
        name: String,
        seeds: @escaping @Sendable () -> [(name: String, bytes: [UInt8])] = { [] },
        run: @escaping @Sendable ([UInt8]) -> FuzzOutcome
    ) {
        self.name = name
        self.seeds = seeds
        self.run = run
    }

    package var description: String { name }

    /// The body of `LLVMFuzzerTestOneInput`: runs the input, traps on ``FuzzOutcome/unexpected(_:)``.
    package func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        if case .unexpected(let what) = run(bytes) { fatalError("\(name): \(what)") }
        return 0
    }
}
