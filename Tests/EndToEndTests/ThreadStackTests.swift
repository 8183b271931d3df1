import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Probe threads run on `threadStackBytes` (1 MiB) stacks, not glibc's 8 MiB: the deepest work a
/// probe thread does must fit, with room to spare.
@Suite("probe threads' stacks")
struct ThreadStackTests {
    @Test("a thread startDetachedThread starts has a threadStackBytes stack")
    func stackSize() async {
        let size: Int = await withCheckedContinuation { continuation in
            startDetachedThread {
                // pthread_getattr_np is a GNU extension the Glibc module leaves out.
                typealias GetAttributes = @convention(c) (pthread_t, UnsafeMutablePointer<pthread_attr_t>) -> Int32
                var attributes = pthread_attr_t()
                var size = 0
                if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_getattr_np"),
                   unsafeBitCast(symbol, to: GetAttributes.self)(pthread_self(), &attributes) == 0
                {
                    pthread_attr_getstacksize(&attributes, &size)
                    pthread_attr_destroy(&attributes)
                }
                continuation.resume(returning: size)
            }
        }
        #expect(threadStackBytes == 1 << 20)
        #expect(size == threadStackBytes)
    }

    @Test("a site probe's JSON nested as deep as a manifest holds is captured whole on its probe thread; one level more fails the section, and the manifest still reads")
    func deepSiteProbe() throws {
        let directory = temporaryDirectory()
        // The object and its arrays.
        for arrays in [Section.maxDataDepth - 1, Section.maxDataDepth] {
            let json = "{\"x\":" + String(repeating: "[", count: arrays) + "1" + String(repeating: "]", count: arrays) + "}"
            try AtomicFile.write(Array(json.utf8), to: directory + "/deep.json")
            let script = "#!/bin/sh\ncat '\(directory)/deep.json'\n"
            try AtomicFile.write(Array(script.utf8), to: directory + "/probes.d/deep.sh", mode: 0o755)
            let result = provenance(["capture", "-q", "--only", "deep", "--probes-dir", directory + "/probes.d",
                                     "-o", directory + "/env.json"])
            #expect(result.outcome == .exited(0), "\(result.stderrText)")
            let section = try readJSON(directory + "/env.json")["sections"]?["deep"]
            if arrays == Section.maxDataDepth {
                #expect(section?["status"] == "failed")
                #expect("\(String(describing: section?["issues"]))".contains("nesting deeper than \(Section.maxDataDepth)"))
                continue
            }
            #expect(section?["status"] == "ok", "\(String(describing: section?["issues"]))")
            var value = section?["data"]?["x"]
            var levels = 0
            while case .array(let items)? = value, items.count == 1 {
                value = items[0]
                levels += 1
            }
            #expect(levels == arrays)
            #expect(value == 1)
            #expect(provenance(["verify", directory + "/env.json", "--only", "deep", "--probes-dir", directory + "/probes.d"])
                .outcome == .exited(0))
        }
    }
}
