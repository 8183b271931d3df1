import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("provenance audit, end to end", .serialized)
struct AuditCommandTests {
    let machine = Project.machines + "/host-hwloc-20em64t-hybrid"

    /// A capture of a recorded machine, the base every generated node is derived from.
    func base(_ directory: String) throws -> JSONValue {
        #expect(provenance(["capture", "-q", "--root", machine, "-o", directory + "/base.json"]).outcome == .exited(0))
        return try readJSON(directory + "/base.json")
    }

    @Test("1,000 manifests with planted outliers: the audit names exactly them, in text, JSON and HTML")
    func planted() throws {
        let directory = temporaryDirectory()
        let recorded = try base(directory)
        mkdir(directory + "/nodes", 0o755)
        for index in 0..<1000 {
            var node = setting(.string("n\(index)"), at: ["hostName"], in: recorded)
            // Identity: a per-node serial, ignored by default.
            node = setting(.string("SERIAL-\(index)"), at: ["sections", "cpu", "data", "serial"], in: node)
            if index == 17 || index == 503 {
                node = setting("5.10.0-99-amd64", at: ["sections", "os", "data", "kernel", "release"], in: node)
            }
            if index == 998 { node = setting("0xdead", at: ["sections", "cpu", "data", "microcode"], in: node) }
            if index == 999 { node = setting("SERIAL-x", at: ["hostName"], in: node) }  // identity only
            try AtomicFile.write(CanonicalJSON.serialize(node), to: directory + "/nodes/\(1000 + index).json")
        }
        let result = provenance(["audit", directory + "/nodes", "--format", "json"])
        #expect(result.outcome == .exited(2), "\(result.stderrText)")
        let report = try JSONParser.parse(result.stdout)
        #expect(report["nodeCount"] == 1000)
        let differences = report["differences"]?.arrayValue ?? []
        #expect(differences.map { $0["path"]?.stringValue } == ["os.kernel.release", "cpu.microcode"])
        #expect(differences.first?["majority"]?["value"] == "6.1.0-13-amd64")
        #expect(differences.first?["majority"]?["count"] == 998)
        #expect(differences.first?["outliers"] == [["value": "5.10.0-99-amd64", "count": 2, "nodes": ["n17", "n503"]]])
        #expect(differences.last?["outliers"]?.arrayValue?.first?["nodes"] == ["n998"])
        #expect(report["groups"]?.arrayValue?.map { $0["count"]?.intValue } == [997, 2, 1])

        let text = provenance(["audit", directory + "/nodes"])
        #expect(text.outcome == .exited(2))
        #expect(text.stdoutText.hasPrefix("differ: 2 fields differ across 1000 nodes in 3 groups (policy strict)"))
        #expect(text.stdoutText.contains("os.kernel.release\n  majority  \"6.1.0-13-amd64\"  (998 of 1000)\n  outlier   \"5.10.0-99-amd64\"  (2): n17, n503"))

        let html = provenance(["audit", directory + "/nodes", "--format", "html"])
        #expect(html.stdoutText.hasPrefix("<!DOCTYPE html>"))
        #expect(html.stdoutText.contains("n17, n503"))

        // A policy that ignores the kernel leaves the microcode only; lenient leaves nothing.
        try AtomicFile.write(Array(#"{"rules": [{"path": "os.kernel.*", "rule": "ignore"}, {"path": "**.serial", "rule": "ignore"}], "default": {"rule": "equal"}}"#.utf8),
                             to: directory + "/policy.json")
        let policed = provenance(["audit", directory + "/nodes", "--policy", directory + "/policy.json", "--format", "json"])
        #expect(try JSONParser.parse(policed.stdout)["differences"]?.arrayValue?.map { $0["path"]?.stringValue } == ["cpu.microcode"])
        #expect(provenance(["audit", directory + "/nodes", "--policy", "lenient"]).outcome == .exited(0))
    }

    @Test("--compare: the fields whose distribution differs between two groups")
    func compare() throws {
        let directory = temporaryDirectory()
        let recorded = try base(directory)
        mkdir(directory + "/before", 0o755)
        mkdir(directory + "/after", 0o755)
        for index in 0..<4 {
            try write(setting(.string("b\(index)"), at: ["hostName"], in: recorded), directory + "/before/\(index).json")
            let upgraded = setting("6.1.0-20-amd64", at: ["sections", "os", "data", "kernel", "release"], in: recorded)
            try write(setting(.string("a\(index)"), at: ["hostName"], in: upgraded), directory + "/after/\(index).json")
        }
        let result = provenance(["audit", "--compare", directory + "/before", directory + "/after", "--format", "json"])
        #expect(result.outcome == .exited(2), "\(result.stderrText)")
        let report = try JSONParser.parse(result.stdout)
        #expect(report["differences"]?.arrayValue?.map { $0["path"]?.stringValue } == ["os.kernel.release"])
        let text = provenance(["audit", "--compare", directory + "/before", directory + "/before"])
        #expect(text.outcome == .exited(0), "\(text.stdoutText)")
    }

    @Test("all alike: exit 0; missing input 66; not a manifest 65; usage 64")
    func errors() throws {
        let directory = temporaryDirectory()
        _ = try base(directory)
        let same = provenance(["audit", directory + "/base.json", directory + "/base.json"])
        #expect(same.outcome == .exited(0))
        #expect(same.stdoutText.hasPrefix("agree: all 2 nodes have the same environment"))
        #expect(provenance(["audit", directory + "/nope"]).outcome == .exited(66))
        mkdir(directory + "/empty", 0o755)
        #expect(provenance(["audit", directory + "/empty"]).outcome == .exited(66))
        try AtomicFile.write(Array("{\"no\": 1}".utf8), to: directory + "/bad.json")
        let bad = provenance(["audit", directory + "/base.json", directory + "/bad.json"])
        #expect(bad.outcome == .exited(65))
        #expect(bad.stderrText.contains("bad.json: not a manifest"))
        #expect(provenance(["audit", "--compare", directory + "/base.json"]).outcome == .exited(64))
        // A FIFO named like a manifest is not opened for reading (which would wait for a writer).
        mkdir(directory + "/odd", 0o755)
        #expect(mkfifo(directory + "/odd/fifo.json", 0o644) == 0)
        let fifo = provenance(["audit", directory + "/odd"])
        #expect(fifo.outcome == .exited(66))
        #expect(fifo.stderrText.contains("fifo.json: not a regular file"), "\(fifo.stderrText)")
    }
}
