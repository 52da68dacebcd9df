internal import CSodium

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Process-wide protections for a process that holds vault keys: the CLI applies them before anything else runs,
/// and a long-running embedder may too.
public enum ProcessHardening {
    /// Sets the core-file size limit to zero (soft and hard) and, on Linux, marks the process not dumpable
    /// (`PR_SET_DUMPABLE` 0): no core file can write secrets to disk, and other processes of the same user cannot
    /// attach a debugger or read `/proc/PID/mem`. Returns whether both took effect.
    @discardableResult
    public static func apply() -> Bool {
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        #if canImport(Glibc)
        let noCore = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) == 0
        #else
        let noCore = setrlimit(RLIMIT_CORE, &limit) == 0
        #endif
        #if os(Linux)
        return noCore && csodium_set_not_dumpable() == 0
        #else
        return noCore
        #endif
    }

    /// Whether the process may be dumped or traced (`PR_GET_DUMPABLE`); `nil` where that is not known.
    public static var isDumpable: Bool? {
        #if os(Linux)
        switch csodium_is_dumpable() {
        case 0: false
        case 1, 2: true
        default: nil
        }
        #else
        nil
        #endif
    }
}
