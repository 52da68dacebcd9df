import Foundation
import FuzzSupport
import FuzzVault
import Testing

/// Replays the committed fuzz inputs of the vault's decoders (`Fuzz/Corpus/<target>`, `Fuzz/Regressions/<target>`)
/// through the same functions the fuzz targets call: each must decode or be rejected with `VaultError`.
@Suite("Fuzz corpus: vault decoders")
struct FuzzCorpusTests {
    /// The repository's `Fuzz` folder, found from this file.
    static let fuzzRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz").path

    @Test("every corpus and regression input decodes or is rejected", arguments: VaultFuzzTargets.all)
    func replay(_ target: FuzzTarget) throws {
        let files = FuzzCorpus.inputs(of: target.name, fuzzRoot: Self.fuzzRoot)
        #expect(!files.isEmpty, "no seed corpus for \(target.name)")
        var accepted = 0
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            let outcome = target.run(bytes)
            if outcome == .accepted { accepted += 1 }
            #expect(outcome == .accepted || outcome == .rejected, "\(file): \(outcome)")
        }
        #expect(accepted > 0, "no input of \(target.name) reaches the success path")
    }

    @Test("the generated seeds are genuine", arguments: VaultFuzzTargets.all)
    func seeds(_ target: FuzzTarget) {
        for seed in target.seeds() where !seed.name.hasPrefix("near-miss-") {
            #expect(target.run(seed.bytes) == .accepted, "\(seed.name)")
        }
    }
}
