import Testing
@testable import provenance

/// `tuneMemoryAllocator`: the settings every start makes before its threads.
@Suite("the allocator set up for a capture")
struct MemoryAllocatorTests {
    @Test("glibc takes every setting")
    func settingsTaken() {
        #expect(tuneMemoryAllocator())
    }
}
