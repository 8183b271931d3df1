import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The GPU probes against real processes on this machine (which has no GPU).
@Suite("GPU probes, live", .serialized)
struct GPUEndToEndTests {
    @Test("an nvidia-smi that never returns costs the timeout, not more, and is reported")
    func hangingNVIDIASMI() throws {
        let directory = temporaryDirectory()
        // First on PATH: an nvidia-smi that hangs, as a wedged driver makes the real one do.
        // Its sleep has a duration unique to this run, so that other tests' processes are not counted below.
        let nonce = Int.random(in: 100_000...999_999)
        try AtomicFile.write(Array("#!/bin/sh\nsleep 300.\(nonce)\n".utf8), to: directory + "/bin/nvidia-smi", mode: 0o755)
        let path = directory + "/bin:" + (processEnvironment()["PATH"] ?? "/usr/bin:/bin")
        let started = monotonicSeconds()
        let result = provenance(["capture", "-q", "-o", directory + "/env.json", "--timeout", "1"],
                                environment: ["PATH": path])
        let elapsed = monotonicSeconds() - started
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        #expect(elapsed < 2.0, "capture took \(elapsed) s with a 1 s timeout")
        let section = try readJSON(directory + "/env.json")["sections"]?["gpu.nvidia"]
        let status = section?["status"]?.stringValue
        #expect(status == "failed" || status == "partial")
        let messages = section?["issues"]?.arrayValue?.compactMap { $0["message"]?.stringValue } ?? []
        #expect(messages.contains { $0.contains("timed out after 1 s") }, "\(messages)")
        // The hung process and its children were killed.
        usleep(200_000)
        #expect(shell("ps -eo args | grep -c '[s]leep 300[.]\(nonce)'").output.trimmed == "0")
    }

    @Test("the real rocm-smi without an AMD GPU: gpu.amd is absent, not failed")
    func realROCmSMI() throws {
        guard shell("command -v rocm-smi").status == 0 else {
            Issue.record("rocm-smi is not installed: scripts/install-deps.sh --test installs it")
            return
        }
        // rocm-smi prints nothing on stdout and exits 0 when no amdgpu driver is loaded.
        let raw = shell("rocm-smi --showallinfo --json 2>/dev/null; echo \"exit=$?\"").output
        #expect(raw.trimmed == "exit=0")
        let directory = temporaryDirectory()
        let result = provenance(["capture", "-q", "-o", directory + "/env.json", "--only", "gpu.amd"])
        #expect(result.outcome == .exited(0))
        let section = try readJSON(directory + "/env.json")["sections"]?["gpu.amd"]
        #expect(section?["status"] == "absent", "\(String(describing: section))")
    }
}
