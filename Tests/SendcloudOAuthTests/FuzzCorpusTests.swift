import Foundation
import FuzzOAuth
import FuzzSupport
import Testing

/// Replays the committed fuzz inputs of the OAuth parsers (`Fuzz/Corpus/<target>`, `Fuzz/Regressions/<target>`)
/// through the same functions the fuzz targets call: each must decode or be rejected with `OAuthError`.
@Suite("Fuzz corpus: OAuth parsers")
struct FuzzCorpusTests {
    @Test("every corpus and regression input decodes or is rejected", arguments: OAuthFuzzTargets.all)
    func replay(_ target: FuzzTarget) throws {
        let results = try FuzzCorpus.replay(target)
        #expect(!results.isEmpty, "no seed corpus for \(target.name)")
        for (file, outcome) in results {
            #expect(outcome == .accepted || outcome == .rejected, "\(file): \(outcome)")
        }
        #expect(results.contains { $0.outcome == .accepted }, "no input of \(target.name) reaches the success path")
    }
}
