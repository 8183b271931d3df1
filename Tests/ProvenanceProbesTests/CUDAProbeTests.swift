import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

/// The cuda probe on recorded machines (facts read off the files by hand: Fixtures/expected/cuda.tsv).
@Suite("CUDA probe on recorded machines")
struct RecordedCUDAProbeTests {
    static let expected = ExpectedTable("cuda")

    func optional(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }

    @Test("toolkit version and source, nvcc component, cuDNN header version", arguments: expected.fixtures)
    func facts(fixture: String) throws {
        let row = Self.expected.row(fixture)
        let section = try collect(CUDAProbe(), onMachine: fixture)
        #expect(section.status == .ok, "\(section.issues)")
        let data = try #require(section.data)
        #expect(data["toolkit"]?["version"]?.stringValue == optional(row["toolkit_version"]))
        #expect(data["toolkit"]?["source"]?.stringValue == optional(row["toolkit_source"]))
        #expect(data["toolkit"]?["components"]?["cuda_nvcc"]?.stringValue == optional(row["nvcc_component"]))
        let cudnn = data["libraryHeaders"]?.arrayValue?.first { $0["library"]?.stringValue == "cudnn" }
        #expect(cudnn?["version"]?.stringValue == optional(row["cudnn_version"]))
        #expect(cudnn?["path"]?.stringValue == optional(row["cudnn_header"]))
        // The driver's CUDA version is gpu.nvidia's; nothing here may be read as it.
        #expect(data["cudaDriverVersion"] == nil && data["driverSupportedCUDA"] == nil)
    }

    @Test("every cuda- machine has expected facts")
    func coverage() {
        let machines = Project.machineNames.filter { $0.hasPrefix("cuda-") }
        #expect(machines.count >= 3)
        for name in machines { #expect(Self.expected.fixtures.contains(name), "\(name) has no row in cuda.tsv") }
    }

    @Test("nothing CUDA or ROCm on the machine: absent", arguments: ["cpu-hwloc-s390x-20cpu", "pci-this-vm"])
    func absent(fixture: String) throws {
        #expect(try collect(CUDAProbe(), onMachine: fixture).status == .absent)
    }

    @Test("the recorded environment's variables are reported (host-procfs has none of them: absent)")
    func recordedEnvironment() throws {
        let environ = try #require(try RootedFileSystem(root: Project.machines + "/host-procfs").readBytes("/proc/self/environ"))
        let environment = parseEnviron(environ)
        let expected = CUDAProbe.visibleDevicesVariables.contains { environment[$0] != nil }
        let section = try collect(CUDAProbe(), onMachine: "host-procfs")
        #expect(section.status == (expected ? .ok : .absent), "\(section.issues)")
    }
}

@Suite("CUDA parsers")
struct CUDAParserTests {
    @Test("nvcc --version: the release line quoted in ../shared/INFRA.md (Debian's nvidia-cuda-toolkit 11.8)")
    func nvcc() throws {
        // INFRA.md: `nvidia-cuda-toolkit` (11.8, 1.6 GB) gives a real `nvcc --version` ("release 11.8, V11.8.89").
        let parsed = try #require(parseNVCCVersion("release 11.8, V11.8.89"))
        #expect(parsed.release == "11.8")
        #expect(parsed.version == "11.8.89")
        #expect(parseNVCCVersion("") == nil)
    }

    @Test("cuda.h: CUDA_VERSION 11080 is 11.8 (INFRA.md: Debian's /usr/include/cuda.h)")
    func cudaHeader() {
        #expect(parseCUDAHeaderVersion("#define CUDA_VERSION 11080\n") == "11.8")
        #expect(parseCUDAHeaderVersion("#define CUDA_VERSION_MAJOR 11\n") == nil)
    }

    @Test("cudnn_version.h of cuDNN 8.2.1 and 9.6.0 (different CUDNN_VERSION formulas, same three defines)",
          arguments: [("cuda-cudnn-8.2.1", "/usr/include/cudnn_version.h", "8.2.1"),
                      ("cuda-zspace-12.6.3-cudnn-9.6.0", "/usr/local/cuda/include/cudnn_version.h", "9.6.0")])
    func cudnn(fixture: String, path: String, version: String) throws {
        let text = try #require(try RootedFileSystem(root: Project.machines + "/" + fixture).read(path))
        #expect(parseCuDNNVersionHeader(text) == version)
        #expect(parseNCCLHeader(text) == nil)
    }

    @Test("version.json: the SDK version and the components, not the bundled driver as the toolkit")
    func versionJSON() throws {
        let fs = RootedFileSystem(root: Project.machines + "/cuda-streamco-12.8.2")
        let parsed = try parseCUDAVersionJSON(try #require(try fs.read("/usr/local/cuda/version.json")))
        #expect(parsed.version == "12.8.2")
        #expect(parsed.components["cuda_cudart"] == "12.8.90")
        #expect(parsed.components["nvidia_driver"] == "572.61")
        #expect(parsed.components["cuda"] == nil)
    }

    @Test("*_VISIBLE_DEVICES: indices and UUIDs (UUIDs from recorded nvidia-smi output), CUDA's stop-at-invalid rule")
    func visibleDevices() {
        #expect(parseVisibleDevices("0,1").devices == [VisibleDevice(index: 0), VisibleDevice(index: 1)])
        let uuids = parseVisibleDevices("GPU-0097a8d1-9b40-0267-a960-13fb288944bd,MIG-00000000-0000-0000-0000-000000000000")
        #expect(uuids.devices.map(\.uuid) == ["GPU-0097a8d1-9b40-0267-a960-13fb288944bd",
                                              "MIG-00000000-0000-0000-0000-000000000000"])
        let stopped = parseVisibleDevices("0,1,-1,2")
        #expect(stopped.devices == [VisibleDevice(index: 0), VisibleDevice(index: 1)])
        #expect(stopped.ignored == ["-1", "2"])
        #expect(parseVisibleDevices("").devices.isEmpty)
        #expect(parseVisibleDevices("").ignored == nil)
        #expect(parseVisibleDevices("NoDevFiles").ignored == ["NoDevFiles"])
        #expect(parseVisibleDevices(" 2 , 3").devices == [VisibleDevice(index: 2), VisibleDevice(index: 3)])
        #expect(parseVisibleDevices("0,1").value == "0,1")
    }

    @Test("library families and versions from sonames and file names")
    func libraryNames() {
        #expect(cudaLibraryFamily(soname: "libcudart.so.12") == "cudart")
        #expect(cudaLibraryFamily(soname: "libcublasLt.so.12") == "cublasLt")
        #expect(cudaLibraryFamily(soname: "libcudnn_ops_infer.so.8") == nil)
        #expect(cudaLibraryFamily(soname: "libcuda.so.1") == nil)
        #expect(cudaLibraryFamily(soname: "libz.so.1") == nil)
        #expect(sonameVersion("libcudart.so.12") == "12")
        #expect(sonameVersion("libcudart.so.12.2.140") == "12.2.140")
        #expect(sonameVersion("libcudart.so") == nil)
        // The byte path for ASCII names, the character path for others; both say the same.
        #expect(cudaLibraryFamily(soname: "libcudart.so") == "cudart")
        #expect(cudaLibraryFamily(soname: "libcudart.so.12.2.140") == "cudart")
        #expect(cudaLibraryFamily(soname: "libcudart.so.12a") == nil)
        #expect(cudaLibraryFamily(soname: "libcudart.so12") == nil)
        #expect(cudaLibraryFamily(soname: "libcudart") == nil)
        #expect(cudaLibraryFamily(soname: "lib.so") == nil)
        #expect(cudaLibraryFamily(soname: "lib") == nil)
        #expect(cudaLibraryFamily(soname: "cudart.so.12") == nil)
        #expect(cudaLibraryFamily(soname: "libcudart.so.\u{0661}\u{0662}") == "cudart")
        #expect(cudaLibraryFamily(soname: "libcudart.so.12\u{e9}") == nil)
    }
}

/// ld.so.cache as this machine's ldconfig reads it; the probe on this machine.
@Suite("CUDA probe on this machine")
struct LiveCUDAProbeTests {
    func live(environment extra: [String: String] = [:], dropping: [String] = []) -> Section {
        var machine = Machine.live()
        for name in dropping { machine.environment[name] = nil }
        machine.environment.merge(extra) { $1 }
        let context = ProbeContext(machine: machine, commandTimeout: 5, deadline: monotonicSeconds() + 10)
        return Capture.collect(CUDAProbe(), context)
    }

    @Test("/etc/ld.so.cache parsed: exactly the entries, order and ABI tags of ldconfig -p")
    func ldSoCache() throws {
        let bytes = try #require(try RootedFileSystem().readBytes("/etc/ld.so.cache"))
        let entries = try parseLdSoCache(bytes)
        let listing = shell("ldconfig -p 2>/dev/null || /sbin/ldconfig -p")
        try #require(listing.status == 0)
        let lines = listing.output.lines.filter { $0.hasPrefix("\t") }
        #expect(listing.output.lines.first == "\(entries.count) libs found in cache `/etc/ld.so.cache'")
        #expect(entries.count == lines.count)
        let formatted = entries.map { "\t\($0.soname) (\($0.abi)) => \($0.path)" }
        for (mine, theirs) in zip(formatted, lines) where mine != theirs {
            Issue.record("ld.so.cache entry '\(mine)' but ldconfig -p says '\(theirs)'")
            break
        }
    }

    @Test("links of cache entries followed under the root as readlink -f does")
    func links() throws {
        let bytes = try #require(try RootedFileSystem().readBytes("/etc/ld.so.cache"))
        let probe = CUDAProbe()
        for entry in try parseLdSoCache(bytes).prefix(40) {
            let resolved = probe.resolveLinks(RootedFileSystem(), entry.path) ?? entry.path
            let expected = shell("readlink -f '\(entry.path)'").output.trimmed
            // readlink -f also resolves links in the directories (/lib -> usr/lib); compare names.
            #expect(resolved.split(separator: "/").last == expected.split(separator: "/").last, "\(entry.path)")
        }
    }

    @Test("every soname of this machine's cache and of its library directories gets the family the character rules give")
    func familiesOfRealNames() throws {
        let bytes = try #require(try RootedFileSystem().readBytes("/etc/ld.so.cache"))
        var names = try parseLdSoCache(bytes).flatMap { [$0.soname, $0.path.split(separator: "/").last.map(String.init) ?? ""] }
        for directory in ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/lib64"] {
            names += (try? RootedFileSystem().list(directory)) ?? []
        }
        try #require(names.count > 100, "too few library names on this machine to compare")
        // Real names with every family the probe knows, as the cache would list them.
        names += CUDAProbe.libraryFamilies.flatMap { ["lib\($0).so", "lib\($0).so.12", "lib\($0).so.12.4.127", "lib\($0)_x.so.1"] }
        for name in names {
            #expect(cudaLibraryFamily(soname: name) == cudaLibraryFamilyByCharacters(name), "\(name)")
        }
    }

    @Test("not a file in ld.so.cache is a lookalike: a garbage file is an error, not a crash")
    func notACache() throws {
        let bytes = try #require(try RootedFileSystem().readBytes("/etc/os-release"))
        #expect(throws: LdSoCacheError.self) { try parseLdSoCache(bytes) }
        let cache = try #require(try RootedFileSystem().readBytes("/etc/ld.so.cache"))
        #expect(throws: LdSoCacheError.self) { try parseLdSoCache(Array(cache.prefix(100))) }
    }

    @Test("CUDA_VISIBLE_DEVICES from the captured environment")
    func visibleDevices() throws {
        let section = live(environment: ["CUDA_VISIBLE_DEVICES": "1,0", "HIP_VISIBLE_DEVICES": ""])
        #expect(section.status == .ok, "\(section.issues)")
        let visible = try #require(section.data?["visibleDevices"])
        #expect(visible["CUDA_VISIBLE_DEVICES"]?["value"]?.stringValue == "1,0")
        #expect(visible["CUDA_VISIBLE_DEVICES"]?["devices"]?.arrayValue?.compactMap { $0["index"]?.intValue } == [1, 0])
        #expect(visible["HIP_VISIBLE_DEVICES"]?["devices"]?.arrayValue?.isEmpty == true)
        #expect(visible["ROCR_VISIBLE_DEVICES"] == nil)
    }

    @Test("without CUDA or ROCm here (as the shell sees it), the section is absent and runs only nvcc")
    func absentHere() throws {
        let cudaHere = shell("""
            ls /usr/local/cuda /opt/rocm/.info/version /usr/include/cuda.h /usr/include/cudnn_version.h \
               /usr/include/nccl.h 2>/dev/null; \
            (ldconfig -p 2>/dev/null || /sbin/ldconfig -p) | grep -E 'lib(cudart|cudnn|nccl|cublas)\\.so'; \
            command -v nvcc
            """).output.trimmed
        let section = live(dropping: CUDAProbe.visibleDevicesVariables + ["LD_LIBRARY_PATH"])
        if cudaHere.isEmpty {
            #expect(section.status == .absent, "\(section.issues)")
        } else {
            #expect(section.status == .ok || section.status == .partial, "\(section.issues)")
        }
    }
}
