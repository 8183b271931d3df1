import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// ../shared/reference-data, read in place.
private let referenceData = Project.root + "/../shared/reference-data"
private let referenceAvailable = RootedFileSystem().isDirectory(referenceData + "/python-ml")

/// Builds a recorded machine under `root` from reference data (links, read in place): a venv,
/// a CPU tuning tree, the H100 node's RDMA adapters, a Spack environment, loaded modules and
/// recorded MPI commands.
private func buildMachine(_ root: String, venv: String, python: String, tuning: String) -> Bool {
    let data = referenceData
    let script = """
        set -e
        R='\(root)'; D='\(data)'
        mkdir -p "$R/venv/bin" "$R/venv/lib/\(python)" "$R/sys/class" "$R/proc/self" "$R/spack" "$R/commands"
        : > "$R/venv/bin/\(python)"; ln -s \(python) "$R/venv/bin/python3"
        [ -f "$D/python-ml/\(venv)/pyvenv.cfg" ] && ln -s "$D/python-ml/\(venv)/pyvenv.cfg" "$R/venv/pyvenv.cfg"
        ln -s "$D/python-ml/\(venv)/site-packages" "$R/venv/lib/\(python)/site-packages"
        ln -s "$D/sys-tuning/\(tuning)/sys/devices" "$R/sys/devices"
        ln -s "$D/hpc-fabric/infiniband/gpud-h100-node-sys-class-infiniband" "$R/sys/class/infiniband"
        ln -s "$D/hpc-env/spack/ncar-derecho-23.09-spack.lock" "$R/spack/spack.lock"
        printf 'VIRTUAL_ENV=/venv\\0SPACK_ENV=/spack\\0LOADEDMODULES=gcc/12.2.0:cuda/12.2.1\\0LMOD_VERSION=8.7.20\\0' > "$R/proc/self/environ"
        ln -s "$D/hpc-fabric/ompi_info/cori-gpu-openmpi-4.0.1-ucx-cuda.txt" "$R/commands/ompi_info.txt"
        ln -s "$D/hpc-fabric/ucx_info/azhpc-centos-hpc-7.9-ucx-1.11.1-ucx_info-v.txt" "$R/commands/ucx_info.txt"
        printf '{"commands": [{"argv": ["ompi_info"], "stdout": "ompi_info.txt"}, {"argv": ["ucx_info", "-v"], "stdout": "ucx_info.txt"}]}' > "$R/commands/commands.json"
        """
    return shell(script).status == 0
}

@Suite("ML/HPC stack, end to end: capture --root of machines built from reference data, verify, render",
       .enabled(if: referenceAvailable, "../shared/reference-data is absent: skipped"))
struct MLHPCStackEndToEndTests {
    @Test("torch cu124 → cu128 is an error under the default policy; a governor change only a warning")
    func captureVerifyRender() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf '\(directory)'") }
        try #require(buildMachine(directory + "/a", venv: "venv-torch2.5.1-cu124-py310-linux", python: "python3.10",
                                  tuning: "arbiterd-intel-2s-48cpu"))
        try #require(buildMachine(directory + "/b", venv: "venv-torch2.11.0-cu128-py312-linux", python: "python3.12",
                                  tuning: "procfs-fixtures"))
        for name in ["a", "b"] {
            let result = provenance(["capture", "--root", "\(directory)/\(name)", "-o", "\(directory)/\(name).json", "--timeout", "2"])
            #expect(result.outcome == .exited(0), "\(result.stderrText)")
        }
        let a = try readJSON(directory + "/a.json")
        for id in ["cuda", "tuning", "software.stack", "rdma", "mpi"] {
            #expect(a["sections"]?[id]?["status"]?.stringValue == "ok", "\(id): \(a["sections"]?[id] ?? .null)")
        }
        #expect(a["sections"]?["cuda"]?["data"]?["frameworks"]?.arrayValue?.first?["cudaVersion"]?.stringValue == "12.4")

        let verify = provenance(["verify", directory + "/a.json", "--against", directory + "/b.json", "--format", "json"])
        #expect(verify.outcome == .exited(2), "\(verify.stderrText)")
        let report = try JSONParser.parse(verify.stdoutText)
        let violations = report["violations"]?.arrayValue ?? []
        func severity(_ path: String) -> String? {
            violations.first { $0["path"]?.stringValue == path }?["severity"]?.stringValue
        }
        #expect(severity("cuda.frameworks[torch].cudaVersion") == "error", "\(verify.stdoutText.prefix(3000))")
        #expect(severity("tuning.frequencyScaling[0].governor") == "warning" || violations.contains {
            ($0["path"]?.stringValue ?? "").hasPrefix("tuning.frequencyScaling") && $0["severity"]?.stringValue == "warning"
        }, "\(verify.stdoutText.prefix(3000))")
        #expect(!violations.contains { ($0["path"]?.stringValue ?? "").hasPrefix("cuda.") && ($0["path"]?.stringValue ?? "").hasSuffix(".location") })

        let render = provenance(["render", directory + "/a.json"])
        #expect(render.outcome == .exited(0))
        for text in ["ML frameworks", "2.5.1+cu124; built with CUDA 12.4", "cudnn 9.1.0.70 (nvidia-cudnn-cu12)",
                     "CPU tuning", "| CPU governor | ondemand (intel\\_cpufreq) |", "HPC stack", "gcc/12.2.0 cuda/12.2.1", "| Open MPI | 4.0.1 |",
                     "8 × MT4129, fw 28.41.1000, 400 Gb/sec (4X NDR), InfiniBand"] {
            #expect(render.stdoutText.contains(text), "render lacks '\(text)': \(render.stdoutText)")
        }
        #expect(!render.stdoutText.contains("cuda frameworks"), "the frameworks are rendered twice")
    }
}
