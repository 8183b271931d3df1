import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Nothing a capture starts outlives it; one bad site-probe file never stops a capture; tools
/// printing garbage get no version; audit tells nodes apart that share a host name.
@Suite("Attack: nothing left running, one bad file never stops a capture", .serialized)
struct AttackProcessTests {
    /// Processes whose command line holds `marker` (`sleep 3141.N` is unique to one test run).
    static func survivors(_ marker: String) -> Int {
        let listing = shell("ps -eo args= | grep -F -- '\(marker)' | grep -v grep | wc -l").output.trimmed
        return Int(listing) ?? -1
    }

    @Test("children of site probes and of tools that setsid/setpgid are ended at the deadline: 0 survivors")
    func noSurvivors() throws {
        let base = temporaryDirectory()
        let marker = "3141.\(Int.random(in: 100_000...999_999))"
        // A site probe that starts escaping children and then hangs past the deadline.
        try AtomicFile.write(Array("""
            #!/bin/sh
            setsid sleep \(marker) &
            setsid sh -c 'sleep \(marker)' &
            perl -e 'setpgrp(0,0); exec "sleep", "\(marker)"' &
            (sleep \(marker) &) &
            sleep \(marker)

            """.utf8), to: base + "/probes/escape.sh", mode: 0o755)
        // A tool on PATH (gcc's name) that daemonises children and hangs.
        try AtomicFile.write(Array("""
            #!/bin/sh
            setsid sleep \(marker) < /dev/null > /dev/null 2>&1 &
            setsid sh -c 'setsid sleep \(marker) & sleep \(marker)' < /dev/null > /dev/null 2>&1 &
            sleep \(marker)

            """.utf8), to: base + "/bin/gcc", mode: 0o755)
        let result = provenance(["capture", "-q", "--no-cache", "--probes-dir", base + "/probes", "--only", "escape",
                                 "--only", "toolchains", "--timeout", "1", "-o", base + "/env.json"],
                                environment: ["PATH": base + "/bin:/usr/bin:/bin"], timeout: 60)
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        usleep(300_000)
        let left = Self.survivors(marker)
        print("attack processes: survivors \(left)")
        #expect(left == 0, "\(left) processes survived: \(shell("ps -eo pid,ppid,pgid,sid,args | grep -F '\(marker)' | grep -v grep").output)")
        // In case the test failed: end this test's own processes (unique marker) by their ids.
        _ = shell("for pid in $(ps -eo pid=,args= | grep -F -- 'sleep \(marker)' | grep -v grep | awk '{print $1}'); do kill -9 $pid; done")
        let manifest = try readJSON(base + "/env.json")
        #expect(manifest["sections"]?["escape"]?["status"] == "failed")
    }

    @Test("a site-probe file with a hyphen or invalid content fails alone; the capture and `probes` go on")
    func badProbeFiles() throws {
        let base = temporaryDirectory()
        try AtomicFile.write(Array("#!/bin/sh\necho '{\"site\": \"ok\"}'\n".utf8), to: base + "/probes/site-info.sh", mode: 0o755)
        try AtomicFile.write(Array("id: broken\nfields: [\n".utf8), to: base + "/probes/broken.yaml")
        try AtomicFile.write(Array("{\"id\": \"Bad Id\"}".utf8), to: base + "/probes/bad.json")
        let capture = provenance(["capture", "-q", "--probes-dir", base + "/probes", "--only", "site-info", "--only", "broken",
                                  "--only", "bad", "--only", "os", "-o", base + "/env.json"])
        #expect(capture.outcome == .exited(0), "\(capture.stderrText)")
        let sections = try readJSON(base + "/env.json")["sections"]
        #expect(sections?["site-info"]?["data"]?["site"] == "ok")
        #expect(sections?["os"]?["status"] == "ok")
        #expect(sections?["broken"]?["status"] == "failed")
        #expect(sections?["broken"]?["issues"]?.arrayValue?.first?["message"]?.stringValue?.contains("invalid YAML") == true,
                "\(sections?["broken"] ?? nil)")
        #expect(sections?["bad"]?["status"] == "failed")
        let probes = provenance(["probes", "--probes-dir", base + "/probes"])
        #expect(probes.outcome == .exited(0), "\(probes.stderrText)")
        #expect(probes.stdoutText.contains("site-info"))
    }

    @Test("a tool printing garbage bytes has no version recorded")
    func garbageVersion() throws {
        let base = temporaryDirectory()
        try AtomicFile.write(Array("#!/bin/sh\nprintf 'gcc 1.2\\033[31m\\377\\376garbage\\n'\n".utf8), to: base + "/bin/gcc", mode: 0o755)
        try AtomicFile.write(Array("#!/bin/sh\nprintf '\\001\\002\\003 9.9.\\377\\n'\n".utf8), to: base + "/bin/make", mode: 0o755)
        let result = provenance(["capture", "-q", "--no-cache", "--only", "toolchains", "-o", base + "/env.json"],
                                environment: ["PATH": base + "/bin:/usr/bin:/bin"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let tools = try readJSON(base + "/env.json")["sections"]?["toolchains"]?["data"]
        for name in ["gcc", "make"] {
            let tool = tools?["tools"]?[name] ?? tools?[name]
            #expect(tool?["version"] == nil || tool?["version"] == .null, "\(name): \(tool ?? nil)")
            if let banner = tool?["banner"]?.stringValue {
                #expect(!banner.unicodeScalars.contains { $0.value < 0x20 || $0 == "\u{FFFD}" }, "\(banner)")
            }
        }
    }

    @Test("audit names nodes that share a host name by scheduler node, else by file; run directories are read")
    func auditNames() throws {
        let base = temporaryDirectory()
        for (index, node) in ["node1", "node2", "node3"].enumerated() {
            var manifest = Attack.manifest(host: "vm", sections: ["os": ["id": .string(index == 2 ? "other" : "debian")]])
            if case .object(var object) = manifest, case .object(var sections)? = object["sections"] {
                sections["scheduler"] = ["status": "ok", "probeVersion": "1.0.0", "data": ["kind": "slurm"],
                                         "volatile": ["slurm": ["nodeName": .string(node), "jobId": "1"]]]
                object["sections"] = .object(sections)
                manifest = .object(object)
            }
            try Attack.write(manifest, to: base + "/slurm/\(node).json")
            // The same without a scheduler, as run directories.
            try Attack.write(Attack.manifest(host: "vm", sections: ["os": ["id": .string(index == 2 ? "other" : "debian")]]),
                             to: base + "/runs/run-\(index)/env.json")
            try Attack.write(["command": ["true"]], to: base + "/runs/run-\(index)/run.json")
        }
        let slurm = provenance(["audit", "--format", "json", base + "/slurm"])
        #expect(slurm.stdoutText.contains("vm/node3"), "\(slurm.stdoutText.prefix(600)) \(slurm.stderrText)")
        #expect(!slurm.stdoutText.contains("\"vm\""), "\(slurm.stdoutText.prefix(600))")
        let runs = provenance(["audit", "--format", "json", base + "/runs"])
        #expect(runs.outcome == .exited(2), "\(runs.stderrText)")
        #expect(runs.stdoutText.contains("run-2"), "\(runs.stdoutText.prefix(600))")
        let one = provenance(["audit", base + "/runs/run-0"])
        #expect(one.outcome == .exited(0), "\(one.stderrText)")
    }
}
