import ProvenanceTestSupport
import Testing
@testable import provenance

/// `tuneMemoryAllocator` and `populateWritableData`: what every start makes before its threads.
@Suite("the allocator set up for a capture")
struct MemoryAllocatorTests {
    @Test("glibc takes every setting")
    func settingsTaken() {
        #expect(tuneMemoryAllocator())
    }

    @Test("a capture populates its writable data in one madvise before its first thread; diff does not")
    func populatedBeforeThreads() {
        guard straceIsInstalled() else { return }
        let directory = temporaryDirectory()
        let traced = shell("""
            cd \(directory) && strace -f -qq -e trace=madvise,clone3 -e signal=none -o capture.txt \
            '\(Project.executable)' capture -q --only os -o env.json \
            && strace -f -qq -e trace=madvise -e signal=none -o diff.txt '\(Project.executable)' diff env.json env.json >/dev/null \
            && grep -oE '(MADV_POPULATE_WRITE\\) = [0-9-]+|clone3)' capture.txt | head -2 && echo diff \
            && grep -c MADV_POPULATE_WRITE diff.txt
            """, timeout: 120)
        let lines = traced.output.split(separator: "\n").map(String.init)
        #expect(lines == ["MADV_POPULATE_WRITE) = 0", "clone3", "diff", "0"], "\(traced.output)")
    }
}
