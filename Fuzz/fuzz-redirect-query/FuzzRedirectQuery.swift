import FuzzOAuth
import FuzzSupport

/// libFuzzer's entry point (built with `scripts/fuzz fuzz-redirect-query`, which defines `FUZZING`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    OAuthFuzzTargets.redirectQuery.fuzz(data, size)
}

#if !FUZZING
/// Without libFuzzer: replays the files given as arguments (see ``FuzzReplay``).
@main
enum FuzzRedirectQuery {
    static func main() { FuzzReplay.main(OAuthFuzzTargets.redirectQuery) }
}
#endif
