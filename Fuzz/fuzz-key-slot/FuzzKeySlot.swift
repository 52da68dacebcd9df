import FuzzSupport
import FuzzVault

/// libFuzzer's entry point (built with `scripts/fuzz fuzz-key-slot`, which defines `FUZZING`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    VaultFuzzTargets.keySlot.fuzz(data, size)
}

#if !FUZZING
/// Without libFuzzer: replays the files given as arguments (see ``FuzzReplay``).
@main
enum FuzzKeySlot {
    static func main() { FuzzReplay.main(VaultFuzzTargets.keySlot) }
}
#endif
