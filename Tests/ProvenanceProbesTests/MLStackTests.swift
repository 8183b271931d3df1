import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#endif

/// ../shared/reference-data, read in place (never copied into the project).
enum ReferenceData {
    static let path = normalizePath(Project.root + "/../shared/reference-data")
    static var available: Bool { RootedFileSystem().isDirectory(path + "/python-ml") }
    static let missing = "../shared/reference-data is absent: reference-data tests skipped"

    static func read(_ relative: String) throws -> String {
        try #require(try RootedFileSystem().read(path + "/" + relative), "\(relative) is missing")
    }
}

/// A recorded machine built under /tmp from reference data: directories, symbolic links to the
/// reference files (so they are read in place) and a recorded environment.
final class ReferenceMachine {
    let root: String

    init(_ label: String) {
        root = "/tmp/provenance-\(label)-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
        mkdirs(root)
    }

    deinit { _ = shell("rm -rf '\(root)'") }

    func mkdirs(_ path: String) { _ = shell("mkdir -p '\(path)'") }

    /// Makes `path` (a machine path) a symbolic link to `target` (a host path, or relative).
    func link(_ path: String, to target: String) {
        mkdirs(root + parentPath(path))
        _ = symlink(target, root + path)
    }

    func write(_ path: String, _ text: String) {
        mkdirs(root + parentPath(path))
        let fd = open(root + path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }

    func environment(_ variables: [String: String]) {
        write("/proc/self/environ", variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)\u{0}" }.joined())
    }

    func collect<P: Probe>(_ probe: P) throws -> Section {
        let machine = try Machine.recorded(root: root, clock: FixedClock(secondsSinceEpoch: 0))
        return Capture.collect(probe, ProbeContext(machine: machine, commandTimeout: 5, deadline: monotonicSeconds() + 5))
    }

    private func parentPath(_ path: String) -> String {
        String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
    }
}

/// A venv of the reference data as a recorded machine: `/venv/bin/python3 -> python3.X`
/// (relative, as `python -m venv` makes it), the site directory linked to the reference one.
func referenceVenv(_ name: String, python: String, extraEnvironment: [String: String] = [:]) -> ReferenceMachine {
    let machine = ReferenceMachine("venv")
    let source = "\(ReferenceData.path)/python-ml/\(name)"
    machine.write("/venv/bin/\(python)", "")
    machine.link("/venv/bin/python3", to: python)
    if RootedFileSystem().exists(source + "/pyvenv.cfg") { machine.link("/venv/pyvenv.cfg", to: source + "/pyvenv.cfg") }
    machine.link("/venv/lib/\(python)/site-packages", to: source + "/site-packages")
    machine.environment(["VIRTUAL_ENV": "/venv"].merging(extraEnvironment) { $1 })
    return machine
}

@Suite("ML framework files (reference data, read in place)", .enabled(if: ReferenceData.available, Comment(rawValue: ReferenceData.missing)))
struct FrameworkParserTests {
    @Test("torch/version.py from 0.4.0 to 2.11, CRLF files and source builds", arguments: [
        ("torch-version/exploremodules36-torch-0.4.0-cu91-version.py", "0.4.0", "9.1", nil as String?),
        ("torch-version/rotatedstomatanet-torch-1.3.1-cu101-version.py", "1.3.1", "10.1", nil),
        ("torch-version/aws-lambda-torch-1.5.0+cpu-version.py", "1.5.0+cpu", nil, "4ff3872a2099993bf7e8c588f7182f3df777205b"),
        ("torch-version/gsad-torch-1.13.1-cu116-version.py", "1.13.1", "11.6", nil),
        ("torch-version/aicodeinterpreter-torch-2.0.1+cu117-version.py", "2.0.1+cu117", "11.7", nil),
        ("torch-version/steleman-pytorch-cuda-2.7.1-version.py", "2.7.1-700", "12.9", nil),
        ("torch-version/kentstone84-pytorch-2.10.0a0-sm120-version.py", "2.10.0a0+gite67e3d9", "13.0",
         "e67e3d95f3ab863c8b44a6b16ce9f25d40b0d517"),
        ("torch-version/90cgui-torch-2.5.1-nocuda-version.py", "2.5.1", nil, nil),
        ("venv-torch2.5.1-cu124-py310-linux/site-packages/torch/version.py", "2.5.1+cu124", "12.4",
         "a8d6afb511a69687bbb2b7e88a3cf67917e1697e"),
        ("venv-torch2.11.0-cu128-py312-linux/site-packages/torch/version.py", "2.11.0+cu128", "12.8",
         "70d99e998b4955e0049d13a98d77ae1b14db1f45"),
    ])
    func torchVersion(file: String, version: String, cuda: String?, git: String?) throws {
        let parsed = parseTorchVersionFile(try ReferenceData.read("python-ml/" + file))
        #expect(parsed.version == version)
        #expect(parsed.cuda == cuda)
        #expect(parsed.hip == nil)
        if let git { #expect(parsed.gitVersion == git) }
    }

    @Test("every torch/version.py of the reference data gives a version")
    func everyTorchFile() throws {
        let directory = ReferenceData.path + "/python-ml/torch-version"
        let files = try #require(try RootedFileSystem().list(directory))
        #expect(files.count >= 12)
        for file in files {
            let parsed = parseTorchVersionFile(try ReferenceData.read("python-ml/torch-version/" + file))
            let expected = file.contains("nocuda") || file.contains("+cpu")
            #expect(parsed.version != nil, "\(file)")
            #expect((parsed.cuda == nil) == expected, "\(file): cuda \(parsed.cuda ?? "nil")")
        }
    }

    @Test("TensorFlow build_info.py: CUDA, cuDNN and compute capabilities", arguments: [
        ("venv-tensorflow2.15.0.post1-py311-linux/site-packages/tensorflow/python/platform/build_info.py", "12.2",
         ["sm_50", "sm_60", "sm_70", "sm_75", "compute_80"]),
        ("tensorflow-build_info/ml_restapi-tf2.16plus-cuda12.3-build_info.py", "12.3",
         ["sm_60", "sm_70", "sm_80", "sm_89", "compute_90"]),
    ])
    func tensorflow(file: String, cuda: String, capabilities: [String]) throws {
        let info = parseTensorFlowBuildInfo(try ReferenceData.read("python-ml/" + file))
        #expect(info.cudaVersion == cuda)
        #expect(info.cudnnVersion == "8")
        #expect(info.isCUDABuild == true && info.isROCmBuild == false)
        #expect(info.computeCapabilities == capabilities)
    }

    @Test("TF 2.1–2.3 module variables (the format build_info.py had before the OrderedDict)")
    func tensorflowOld() {
        let info = parseTensorFlowBuildInfo("is_rocm_build = False\nis_cuda_build = True\ncuda_version_number = '10.1'\ncudnn_version_number = '7'\n")
        #expect(info.cudaVersion == "10.1" && info.cudnnVersion == "7" && info.isCUDABuild == true)
    }

    @Test("jax/version.py: the release version")
    func jax() throws {
        #expect(parseJaxVersionFile(try ReferenceData.read("python-ml/jax-version/mmp_2302-jax-0.4.18-version.py")) == "0.4.18")
    }

    @Test("Requires-Dist of torch 2.5.1 (Metadata 2.1) and 2.11 (2.4, extras), TF's and-cuda extra")
    func requiresDist() throws {
        let torch = parseRequiresDist(try ReferenceData.read(
            "python-ml/venv-torch2.5.1-cu124-py310-linux/site-packages/torch-2.5.1.dist-info/METADATA"))
        let cudnn = try #require(torch.first { $0.name == "nvidia-cudnn-cu12" })
        #expect(cudnn.specifier == "==9.1.0.70" && cudnn.extra == nil)
        #expect(cudnn.marker == "platform_system == \"Linux\" and platform_machine == \"x86_64\"")
        #expect(torch.filter { $0.name.hasPrefix("nvidia-") }.count == 12)
        #expect(torch.first { $0.name == "opt-einsum" }?.extra == "opt-einsum")

        let torch211 = parseRequiresDist(try ReferenceData.read(
            "python-ml/venv-torch2.11.0-cu128-py312-linux/site-packages/torch-2.11.0+cu128.dist-info/METADATA"))
        let toolkit = try #require(torch211.first { $0.name == "cuda-toolkit" })
        #expect(toolkit.specifier == "==12.8.1")
        #expect(toolkit.extras == ["cublas", "cudart", "cufft", "cufile", "cupti", "curand", "cusolver", "cusparse",
                                   "nvjitlink", "nvrtc", "nvtx"])
        #expect(torch211.first { $0.name == "cuda-bindings" }?.specifier == "<13,>=12.9.4")

        let tf = parseRequiresDist(try ReferenceData.read(
            "python-ml/venv-tensorflow2.15.0.post1-py311-linux/site-packages/tensorflow-2.15.0.post1.dist-info/METADATA"))
        let andCUDA = tf.filter { $0.extra == "and-cuda" }
        #expect(andCUDA.count == 12)
        #expect(andCUDA.first { $0.name == "nvidia-cudnn-cu12" }?.specifier == "==8.9.4.25")
    }
}

@Suite("PEP 440 and wheel names")
struct WheelNameTests {
    @Test("specifiers", arguments: [
        ("9.1.0.70", "==9.1.0.70", true), ("9.1.0.71", "==9.1.0.70", false), ("12.8.90", "==12.8.90.*", true),
        ("12.8.91", "==12.8.90.*", false), ("12.9.4", "<13,>=12.9.4", true), ("13.0.0", "<13,>=12.9.4", false),
        ("2.11.0+cu128", "==2.11.0", true), ("2.2.1", "~=2.1", true), ("3.0", "~=2.1", false), ("1.0", "!=1.0", false),
        ("12.1.3.1", ">=12.1.3.1", true), ("12.1.3", ">12.1.3", false),
    ])
    func specifier(version: String, specifier: String, expected: Bool) {
        #expect(pep440Satisfies(version, specifier) == expected)
    }

    @Test("NVIDIA wheel names → libraries and CUDA major")
    func names() {
        #expect(nvidiaWheelLibraries("nvidia-cuda-runtime-cu12")! == (["cudart"], "12"))
        #expect(nvidiaWheelLibraries("nvidia_cudnn_cu13")! == (["cudnn"], "13"))
        #expect(nvidiaWheelLibraries("nvidia-cublas")! == (["cublas", "cublasLt"], nil))
        #expect(nvidiaWheelLibraries("nvidia-ml-py") == nil)
        #expect(nvidiaWheelLibraries("torch") == nil)
    }
}

@Suite("cuda section: Python frameworks and NVIDIA wheels (reference venvs, read in place)",
       .enabled(if: ReferenceData.available, Comment(rawValue: ReferenceData.missing)))
struct PythonCUDAStackTests {
    func data(_ machine: ReferenceMachine) throws -> JSONValue {
        let section = try machine.collect(CUDAProbe())
        #expect(section.status == .ok, "\(section.issues)")
        return try #require(section.data)
    }

    @Test("torch 2.5.1+cu124: wheels, pins, libraries from the wheels")
    func torch251() throws {
        let machine = referenceVenv("venv-torch2.5.1-cu124-py310-linux", python: "python3.10")
        let data = try data(machine)
        let wheels = try #require(data["pythonWheels"]?.arrayValue)
        #expect(wheels.map { $0["name"]?.stringValue ?? "" } ==
                ["nvidia-cublas-cu12", "nvidia-cuda-runtime-cu12", "nvidia-cudnn-cu12", "nvidia-nccl-cu12"])
        #expect(wheels.allSatisfy { $0["cudaMajor"]?.stringValue == "12" })
        let torch = try #require(data["frameworks"]?.arrayValue?.first { $0["name"]?.stringValue == "torch" })
        #expect(torch["version"]?.stringValue == "2.5.1+cu124")
        #expect(torch["cudaVersion"]?.stringValue == "12.4")
        #expect(torch["gitRevision"]?.stringValue == "a8d6afb511a69687bbb2b7e88a3cf67917e1697e")
        #expect(torch["distribution"]?.stringValue == "torch")
        let pins = try #require(torch["pins"]?.arrayValue)
        #expect(pins.count == 12)
        let cudnnPin = try #require(pins.first { $0["name"]?.stringValue == "nvidia-cudnn-cu12" })
        #expect(cudnnPin["installed"]?.stringValue == "9.1.0.70" && cudnnPin["satisfied"] == JSONValue.bool(true))
        // The recorded venv kept 4 of the 12 pinned wheels: the other 8 are missing.
        let missing = (data["conflicts"]?.arrayValue ?? []).filter { $0["kind"]?.stringValue == "pin-missing" }
        #expect(missing.count == 8)
        let libraries = try #require(torch["libraries"]?.arrayValue)
        let cudart = try #require(libraries.first { $0["name"]?.stringValue == "cudart" })
        #expect(cudart["source"]?.stringValue == "wheel")
        #expect(cudart["distribution"]?.stringValue == "nvidia-cuda-runtime-cu12")
        #expect(cudart["version"]?.stringValue == "12.4.127")
        let cudnn = try #require(libraries.first { $0["name"]?.stringValue == "cudnn" })
        #expect(cudnn["version"]?.stringValue == "9.1.0.70" && cudnn["source"]?.stringValue == "wheel")
        #expect(libraries.first { $0["name"]?.stringValue == "cufft" } == nil)
    }

    @Test("a cuDNN earlier on LD_LIBRARY_PATH is what torch loads, flagged against the wheel")
    func shadowedByLibraryPath() throws {
        let machine = referenceVenv("venv-torch2.5.1-cu124-py310-linux", python: "python3.10",
                                    extraEnvironment: ["LD_LIBRARY_PATH": "/opt/cudnn/lib"])
        machine.write("/opt/cudnn/lib/libcudnn.so.9.0.0", "")
        machine.link("/opt/cudnn/lib/libcudnn.so.9", to: "libcudnn.so.9.0.0")
        let data = try data(machine)
        let torch = try #require(data["frameworks"]?.arrayValue?.first { $0["name"]?.stringValue == "torch" })
        let cudnn = try #require(torch["libraries"]?.arrayValue?.first { $0["name"]?.stringValue == "cudnn" })
        #expect(cudnn["source"]?.stringValue == "LD_LIBRARY_PATH")
        #expect(cudnn["file"]?.stringValue == "/opt/cudnn/lib/libcudnn.so.9")
        #expect(cudnn["version"]?.stringValue == "9.0.0")
        let conflict = try #require(data["conflicts"]?.arrayValue?.first { $0["kind"]?.stringValue == "library-path-shadows-wheel" })
        #expect(conflict["library"]?.stringValue == "cudnn")
        #expect(conflict["message"]?.stringValue?.contains("nvidia-cudnn-cu12 9.1.0.70") == true)
    }

    @Test("torch 2.11.0+cu128: cuda-toolkit pin, cuDNN cu12 and cu13 side by side, CUDA 13 cuBLAS not taken for cu128")
    func torch211() throws {
        let machine = referenceVenv("venv-torch2.11.0-cu128-py312-linux", python: "python3.12")
        let data = try data(machine)
        let torch = try #require(data["frameworks"]?.arrayValue?.first { $0["name"]?.stringValue == "torch" })
        #expect(torch["version"]?.stringValue == "2.11.0+cu128")
        let pins = try #require(torch["pins"]?.arrayValue)
        let toolkit = try #require(pins.first { $0["name"]?.stringValue == "cuda-toolkit" })
        #expect(toolkit["installed"]?.stringValue == "12.8.1" && toolkit["satisfied"] == JSONValue.bool(true))
        #expect(pins.first { $0["name"]?.stringValue == "cuda-bindings" }?["satisfied"] == JSONValue.bool(true))
        let conflicts = data["conflicts"]?.arrayValue ?? []
        let duplicate = try #require(conflicts.first { $0["kind"]?.stringValue == "duplicate-wheels" })
        #expect(duplicate["library"]?.stringValue == "cudnn")
        let libraries = try #require(torch["libraries"]?.arrayValue)
        let cudnn = try #require(libraries.first { $0["name"]?.stringValue == "cudnn" })
        #expect(cudnn["distribution"]?.stringValue == "nvidia-cudnn-cu12")
        // nvidia-cublas 13.1.0.3 provides libcublas.so.13; torch cu128 loads libcublas.so.12.
        #expect(libraries.first { $0["name"]?.stringValue == "cublas" } == nil)
        let wheels = try #require(data["pythonWheels"]?.arrayValue)
        #expect(wheels.first { $0["name"]?.stringValue == "nvidia-cublas" }?["cudaMajor"]?.stringValue == "13")
    }

    @Test("tensorflow 2.15: CUDA 12.2 / cuDNN 8 build, the and-cuda pins not installed are not conflicts")
    func tensorflow() throws {
        let machine = referenceVenv("venv-tensorflow2.15.0.post1-py311-linux", python: "python3.11")
        let data = try data(machine)
        let tf = try #require(data["frameworks"]?.arrayValue?.first { $0["name"]?.stringValue == "tensorflow" })
        #expect(tf["version"]?.stringValue == "2.15.0.post1")
        #expect(tf["cudaVersion"]?.stringValue == "12.2" && tf["cudnnVersion"]?.stringValue == "8")
        #expect(tf["computeCapabilities"]?.arrayValue?.count == 5)
        let pins = try #require(tf["pins"]?.arrayValue)
        #expect(pins.count == 12 && pins.allSatisfy { $0["extra"]?.stringValue == "and-cuda" && $0["installed"] == nil })
        #expect(data["conflicts"] == nil)
    }
}

@Suite("cuda section on a real venv (pip install from the package index)")
struct RealVenvCUDATests {
    @Test("nvidia-cuda-runtime-cu12 in a venv: the runtime, its version and file, attributed to the wheel")
    func realWheel() throws {
        let directory = "/tmp/provenance-venv-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
        defer { _ = shell("rm -rf '\(directory)'") }
        let install = shell("python3 -m venv '\(directory)' && '\(directory)/bin/pip' install --quiet "
                            + "--disable-pip-version-check nvidia-cuda-runtime-cu12 >/dev/null 2>&1 && echo ok", timeout: 600)
        try #require(install.output.contains("ok"), "python3 -m venv / pip install nvidia-cuda-runtime-cu12 failed")
        // pip's own answer, to compare with.
        let pipVersion = shell("'\(directory)/bin/pip' show nvidia-cuda-runtime-cu12 | sed -n 's/^Version: //p'").output.trimmed
        let library = shell("cd '\(directory)' && ls lib/python3*/site-packages/nvidia/cuda_runtime/lib/libcudart.so.*").output.trimmed

        var machine = Machine.live(clock: FixedClock(secondsSinceEpoch: 0))
        machine.environment = ["VIRTUAL_ENV": directory, "PATH": "/usr/bin:/bin"]
        let section = Capture.collect(CUDAProbe(), ProbeContext(machine: machine, commandTimeout: 10,
                                                                deadline: monotonicSeconds() + 30))
        #expect(section.status == .ok || section.status == .partial, "\(section.issues)")
        let data = try #require(section.data)
        let wheel = try #require(data["pythonWheels"]?.arrayValue?.first {
            $0["name"]?.stringValue == "nvidia-cuda-runtime-cu12"
        })
        #expect(wheel["version"]?.stringValue == pipVersion)
        #expect(wheel["libraries"]?.arrayValue == [.string("cudart")])
        #expect(wheel["cudaMajor"]?.stringValue == "12")
        let fileValues = wheel["files"]?.arrayValue ?? []
        let files = fileValues.compactMap { $0.stringValue }
        #expect(!files.isEmpty)
        #expect(!library.isEmpty && files.contains { library.hasSuffix("site-packages/" + $0) }, "\(files) vs \(library)")
    }
}

@Suite("nvidia-smi -q -x: application clocks (nvidia-smi-xml reference files, read in place)",
       .enabled(if: ReferenceData.available, Comment(rawValue: ReferenceData.missing)))
struct ApplicationClockTests {
    @Test("set and default application clocks in MHz; N/A and 'deprecated' are unavailable, not problems", arguments: [
        ("telegraf-a100-sxm4-v12.xml", Int64(1275), Int64(1593)), ("telegraf-a10g.xml", 1710, 6251),
        ("telegraf-quadro-p400.xml", 1227, 2005), ("telegraf-tesla-t4.xml", 585, 5001),
        ("telegraf-rtx-3080-v13.xml", nil, nil), ("telegraf-tesla_p4.xml", nil, nil), ("telegraf-gtx-1070-ti.xml", nil, nil),
    ] as [(String, Int64?, Int64?)])
    func clocks(file: String, graphics: Int64?, memory: Int64?) throws {
        let log = try parseNVIDIASMIXML(try ReferenceData.read("nvidia-smi-xml/" + file))
        let gpu = try #require(log.gpus.first)
        #expect(gpu.applicationClocks?.graphicsMHz == graphics && gpu.applicationClocks?.memoryMHz == memory)
        #expect(gpu.defaultApplicationClocks?.graphicsMHz == graphics && gpu.defaultApplicationClocks?.memoryMHz == memory)
        #expect(!log.problems.contains { $0.contains("pplicationClocks") }, "\(log.problems)")
        if graphics == nil, file != "telegraf-gtx-1070-ti.xml" { #expect(gpu.unavailable?["applicationClocks.graphics"] != nil) }
    }
}

@Suite("nvidia-smi -q -x: locked clocks and clock policy (every nvidia-smi-xml reference file, read in place)",
       .enabled(if: ReferenceData.available, Comment(rawValue: ReferenceData.missing)))
struct LockedClockTests {
    /// The only locked clock the XML carries is `<deferred_clocks><mem_clock>` (drivers 525+);
    /// every recorded GPU reports it, and `<clock_policy>` auto boost, as `N/A`, which must land in
    /// `unavailable` (as grep reads the file), never as a value or a parse problem.
    @Test("deferred memory clock and auto boost as the files state them")
    func everyFile() throws {
        let directory = ReferenceData.path + "/nvidia-smi-xml"
        let files = try #require(try RootedFileSystem().list(directory)).filter { $0.hasSuffix(".xml") }
        #expect(files.count >= 13)
        var deferred = 0
        for file in files {
            let text = try ReferenceData.read("nvidia-smi-xml/" + file)
            let log = try parseNVIDIASMIXML(text)
            #expect(!log.problems.contains { $0.contains("deferred") || $0.contains("autoBoost") }, "\(file): \(log.problems)")
            // An independent reading: the element's text by grep/sed.
            func elementText(_ parent: String, _ child: String) -> String? {
                let value = shell("sed -n '/<\(parent)>/,/<\\/\(parent)>/p' '\(directory)/\(file)' | sed -n 's/.*<\(child)>\\(.*\\)<\\/\(child)>.*/\\1/p' | head -1").output.trimmed
                return value.isEmpty ? nil : value
            }
            for gpu in log.gpus {
                if let text = elementText("deferred_clocks", "mem_clock") {
                    deferred += 1
                    #expect(text == "N/A" ? gpu.unavailable?["deferredMemoryClockMHz"] == "N/A"
                                          : gpu.deferredMemoryClockMHz.map { "\($0) MHz" } == text, "\(file)")
                } else {
                    #expect(gpu.deferredMemoryClockMHz == nil && gpu.unavailable?["deferredMemoryClockMHz"] == nil, "\(file)")
                }
                let boost = elementText("clock_policy", "auto_boost")
                #expect(boost == nil || boost == "N/A" ? gpu.autoBoost == nil : gpu.autoBoost == boost, "\(file)")
                if boost == "N/A" { #expect(gpu.unavailable?["autoBoost"] == "N/A" && gpu.unavailable?["autoBoostDefault"] == "N/A") }
            }
        }
        #expect(deferred >= 5)
    }
}
