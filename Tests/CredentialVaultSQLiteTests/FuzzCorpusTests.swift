import Foundation
import FuzzSupport
import FuzzVault
import Testing

/// Replays the committed fuzz inputs of the vault's decoders (`Fuzz/Corpus/<target>`, `Fuzz/Regressions/<target>`)
/// through the same functions the fuzz targets call: each must decode or be rejected with `VaultError`.
@Suite("Fuzz corpus: vault decoders")
struct FuzzCorpusTests {
    @Test("every corpus and regression input decodes or is rejected", arguments: VaultFuzzTargets.all)
    func replay(_ target: FuzzTarget) throws {
        let results = try FuzzCorpus.replay(target)
        #expect(!results.isEmpty, "no seed corpus for \(target.name)")
        for (file, outcome) in results {
            #expect(outcome == .accepted || outcome == .rejected, "\(file): \(outcome)")
        }
        #expect(results.contains { $0.outcome == .accepted }, "no input of \(target.name) reaches the success path")
    }

    @Test("the generated seeds are genuine", arguments: VaultFuzzTargets.all)
    func seeds(_ target: FuzzTarget) {
        for seed in target.seeds() where !seed.name.hasPrefix("near-miss-") {
            #expect(target.run(seed.bytes) == .accepted, "\(seed.name)")
        }
    }
}
