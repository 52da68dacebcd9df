import Foundation
import Testing

@testable import CredentialVault

#if canImport(Glibc)
import Glibc
#endif

@Suite("Process hardening")
struct ProcessHardeningTests {
    @Test("apply() leaves no core-file limit and a process that is not dumpable")
    func applied() throws {
        #expect(ProcessHardening.apply())
        var limit = rlimit()
        #expect(getrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) == 0)
        #expect(limit.rlim_cur == 0 && limit.rlim_max == 0)
        #expect(ProcessHardening.isDumpable == false)
    }
}
