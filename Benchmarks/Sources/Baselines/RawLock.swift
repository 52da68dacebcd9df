#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The floor for the account lock: one open file description's byte lock taken and given back, nothing around it.
public enum RawLock {
    /// `F_OFD_SETLK` write lock and unlock of `byte` on `descriptor` (Linux's open-file-description locks; `F_SETLK`
    /// elsewhere).
    public static func lockAndUnlock(_ descriptor: Int32, byte: Int) {
        #if os(Linux)
        let command: Int32 = 37  // F_OFD_SETLK
        #else
        let command = F_SETLK
        #endif
        var request = flock()
        request.l_type = Int16(F_WRLCK)
        request.l_whence = Int16(SEEK_SET)
        request.l_start = off_t(byte)
        request.l_len = 1
        precondition(fcntl(descriptor, command, &request) == 0)
        request.l_type = Int16(F_UNLCK)
        precondition(fcntl(descriptor, command, &request) == 0)
    }
}
