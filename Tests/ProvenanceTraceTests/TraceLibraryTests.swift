import ProvenanceCore
import ProvenanceTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("ProvenanceTrace: paths, filters, static programs, segments")
struct TraceLibraryTests {
    @Test("paths are normalised lexically, as bytes")
    func normalise() {
        #expect(TracePath.normalise(Array("/a/./b//c/../d/".utf8)) == Array("/a/b/d".utf8))
        #expect(TracePath.normalise(Array("/../x".utf8)) == Array("/x".utf8))
        #expect(TracePath.normalise([0x2f, 0x61, 0xff, 0x2f, 0x2e]) == [0x2f, 0x61, 0xff])
        #expect(TracePath.isInside(Array("/proc/self/maps".utf8), Array("/proc".utf8)))
        #expect(!TracePath.isInside(Array("/processes/x".utf8), Array("/proc".utf8)))
    }

    @Test("system trees are summarised; --trace-include and --trace-exclude, longest prefix wins")
    func filter() {
        let plain = TraceFilter()
        #expect(plain.tree(of: Array("/proc/cpuinfo".utf8)) == "/proc")
        #expect(plain.tree(of: Array("/usr/lib/python3.11/os.py".utf8)) == "/usr/lib/python3.11")
        #expect(plain.tree(of: Array("/home/a/venv/lib/python3.11/site-packages/numpy/__init__.py".utf8))
                == "/home/a/venv/lib/python3.11")
        #expect(plain.tree(of: Array("/home/a/data/train.csv".utf8)) == nil)
        #expect(plain.tree(of: Array("/etc/hosts".utf8)) == nil)
        let custom = TraceFilter(include: ["/usr/lib/python3.11/site-packages/torch"], exclude: ["/home/a/cache", "/usr/lib/python3.11/site-packages/torch/hub"])
        #expect(custom.tree(of: Array("/usr/lib/python3.11/site-packages/torch/version.py".utf8)) == nil)
        #expect(custom.tree(of: Array("/usr/lib/python3.11/site-packages/torch/hub/x".utf8)) == "/usr/lib/python3.11/site-packages/torch/hub")
        #expect(custom.tree(of: Array("/home/a/cache/blob".utf8)) == "/home/a/cache")
    }

    @Test("a statically linked program (busybox-static) is untraced; a dynamic one and its scripts are not")
    func staticPrograms() throws {
        try #require(access("/bin/busybox", X_OK) == 0, "busybox-static is not installed (scripts/install-deps.sh --test)")
        #expect(TraceSummary.untracedReason(Array("/bin/busybox".utf8))?.contains("statically linked") == true)
        #expect(TraceSummary.untracedReason(Array("/bin/sh".utf8)) == nil)
        let script = "/tmp/provenance-trace-unit-\(getpid()).sh"
        defer { unlink(script) }
        let text = Array("#!/bin/busybox sh\necho hi\n".utf8)
        let fd = open(script, O_WRONLY | O_CREAT | O_TRUNC, 0o755)
        _ = write(fd, text, text.count)
        close(fd)
        #expect(TraceSummary.untracedReason(Array(script.utf8))?.hasPrefix("interpreter /bin/busybox is statically linked") == true)
    }

    @Test("a segment's records are read up to the first incomplete one")
    func segment() {
        var bytes = Array("PVTRACE1".utf8) + [UInt8](repeating: 0, count: 56)
        func record(type: UInt8, pid: Int32, path: String) -> [UInt8] {
            let pathBytes = Array(path.utf8)
            let length = (80 + pathBytes.count + 7) & ~7
            var out = [UInt8](repeating: 0, count: length)
            out[0] = type
            withUnsafeBytes(of: UInt32(length).littleEndian) { out.replaceSubrange(4..<8, with: $0) }
            withUnsafeBytes(of: pid.littleEndian) { out.replaceSubrange(8..<12, with: $0) }
            withUnsafeBytes(of: UInt32(pathBytes.count).littleEndian) { out.replaceSubrange(72..<76, with: $0) }
            out.replaceSubrange(80..<(80 + pathBytes.count), with: pathBytes)
            return out
        }
        bytes += record(type: 1, pid: 7, path: "/data/a.csv")
        bytes += record(type: 0, pid: 7, path: "/never/completed")  // reserved, the process was killed
        bytes += record(type: 3, pid: 7, path: "/after")
        withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { bytes.replaceSubrange(8..<16, with: $0) }
        let parsed = TraceReader.parseSegment(bytes)
        #expect(parsed.problem == nil)
        #expect(parsed.events.map(\.path) == [Array("/data/a.csv".utf8)])
        #expect(parsed.events.first?.kind == .open && parsed.events.first?.pid == 7)
        #expect(TraceReader.parseSegment(Array("garbage".utf8)).problem == "not a trace segment")
    }
}
