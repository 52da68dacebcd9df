import FuzzSupport
import FuzzVault

/// libFuzzer's entry point (built with `scripts/fuzz fuzz-sealed-value`, which defines `FUZZING`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    VaultFuzzTargets.sealedValue.fuzz(data, size)
}

#if !FUZZING
/// Without libFuzzer: replays the files given as arguments (see ``FuzzReplay``).
@main
enum FuzzSealedValue {
    static func main() { FuzzReplay.main(VaultFuzzTargets.sealedValue) }
}
#endif
