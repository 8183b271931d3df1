import ProvenanceCore
import ProvenanceProbeKit

/// The CUDA that Python ML frameworks load: the NVIDIA wheels installed in the job's Python, the
/// frameworks (torch, TensorFlow, jax/jaxlib and the jax CUDA plugins) with the CUDA they were
/// built against and the NVIDIA versions their metadata pins, and the conflicts between them.
/// Part of the cuda section; nothing is imported or run.
///
/// Reads, in the site directories of the python the python probe finds (the same search):
/// `torch/version.py`, `tensorflow/python/platform/build_info.py`, `jax/version.py`,
/// `jaxlib/version.py`, each framework's and each `nvidia-*` wheel's `*.dist-info/METADATA`
/// and `RECORD`.
///
/// Which file a framework loads: its shared objects carry a RUNPATH into the wheels
/// (`$ORIGIN/../../nvidia/cudnn/lib`), and the dynamic linker searches `LD_LIBRARY_PATH`
/// *before* RUNPATH (ld.so(8)), so a library of the same soname in a directory of
/// `LD_LIBRARY_PATH` wins over the wheel; without a wheel, `/etc/ld.so.cache` answers.
struct PythonCUDAStack {
    var wheels: [CUDAWheel] = []
    var frameworks: [MLFramework] = []
    var conflicts: [CUDAConflict] = []

    /// Libraries whose version is the CUDA toolkit's (cuFFT, cuDNN, NCCL… have their own).
    static let toolkitVersionedLibraries: Set<String> = ["cudart", "cublas", "cublasLt", "nvrtc", "nvJitLink", "cupti"]

    /// The (normalised) names of the distributions the stack looks at, as prefixes: NVIDIA wheels,
    /// the frameworks and their CUDA pins (`cuda-toolkit`, `cuda-bindings`). The python probe's
    /// search reads only these (`PythonProbe.distributionNamePrefixes`): with 105 distributions
    /// installed and none of these, the cuda probe read 105 metadata files to find nothing.
    static let distributionNamePrefixes = ["nvidia", "torch", "tensorflow", "tf-nightly", "jax", "cuda-toolkit", "cuda-bindings"]

    /// One installed distribution: its metadata name, version, site and dist-info directory.
    struct Installed {
        var name: String
        var version: String
        var site: String
        var distInfo: String?
    }

    static func read(_ context: ProbeContext, runtimeLibraries: [CUDAProbe.RuntimeLibrary], python probe: PythonProbe,
                     _ report: ProbeReport) -> PythonCUDAStack
    {
        let fs = context.fs
        var stack = PythonCUDAStack()
        // The python probe's search for the interpreter and its site directories, reading only the
        // distributions of `distributionNamePrefixes` (its own issues are reported in the python section).
        guard let python = try? probe.collect(context, ProbeReport()) else { return stack }

        // dist-info directories by normalised name, first on the path winning (as the python probe does).
        var installed: [String: Installed] = [:]
        for site in python.sitePackages {
            var distInfos: [String: String] = [:]
            for entry in (try? fs.list(site)) ?? [] where entry.hasSuffix(".dist-info") {
                let stem = entry.dropLast(".dist-info".count)
                let name = stem.split(separator: "-", maxSplits: 1).first.map(String.init) ?? String(stem)
                distInfos[normalizeDistributionName(name)] = "\(site)/\(entry)"
            }
            for distribution in python.distributions where distribution.location == site {
                let key = normalizeDistributionName(distribution.name)
                guard installed[key] == nil else { continue }
                installed[key] = Installed(name: distribution.name, version: distribution.version, site: site,
                                           distInfo: distInfos[key])
            }
        }

        // NVIDIA wheels.
        for (key, item) in installed.sorted(by: { $0.key < $1.key }) {
            guard let (libraries, wheelMajor) = nvidiaWheelLibraries(key) else { continue }
            var major = wheelMajor
            // CUDA 13's suffix-less toolkit wheels (`nvidia-cublas` 13.1.0.3): the version's major.
            if major == nil, !Set(libraries).isDisjoint(with: Self.toolkitVersionedLibraries) {
                major = item.version.split(separator: ".").first.map(String.init)
            }
            var wheel = CUDAWheel(name: item.name, version: item.version, libraries: libraries,
                                  cudaMajor: major, location: item.site)
            if let distInfo = item.distInfo, let record = fs.read(distInfo + "/RECORD", reportingTo: report) {
                wheel.files = parseRecordSharedLibraries(record).sorted()
            }
            stack.wheels.append(wheel)
        }
        // Two wheels for one library (cu12 and cu13 of cuDNN side by side).
        var byLibrary: [String: [CUDAWheel]] = [:]
        for wheel in stack.wheels { for library in wheel.libraries { byLibrary[library, default: []].append(wheel) } }
        for (library, wheels) in byLibrary.sorted(by: { $0.key < $1.key }) where wheels.count > 1 {
            stack.conflicts.append(CUDAConflict(
                kind: "duplicate-wheels", library: library,
                message: "\(wheels.count) wheels provide \(library): "
                    + wheels.map { "\($0.name) \($0.version)" }.joined(separator: ", ")))
        }

        // Frameworks.
        for site in python.sitePackages {
            if let text = fs.read(site + "/torch/version.py", reportingTo: report),
               !stack.frameworks.contains(where: { $0.name == "torch" })
            {
                let file = parseTorchVersionFile(text)
                var framework = MLFramework(name: "torch", version: file.version, location: site,
                                            cudaVersion: file.cuda, hipVersion: file.hip, gitRevision: file.gitVersion,
                                            sources: [site + "/torch/version.py"])
                stack.attach(&framework, installed["torch"], fs, report)
                stack.frameworks.append(framework)
            }
            let buildInfo = site + "/tensorflow/python/platform/build_info.py"
            if let text = fs.read(buildInfo, reportingTo: report), !stack.frameworks.contains(where: { $0.name == "tensorflow" }) {
                let info = parseTensorFlowBuildInfo(text)
                // The distribution that installed the `tensorflow` package (tensorflow, -cpu, tf-nightly, …).
                let distribution = ["tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tf-nightly", "tensorflow-intel"]
                    .lazy.compactMap { installed[$0] }.first { $0.site == site }
                var framework = MLFramework(name: "tensorflow", version: distribution?.version, location: site,
                                            cudaVersion: info.isCUDABuild == false ? nil : info.cudaVersion,
                                            cudnnVersion: info.isCUDABuild == false ? nil : info.cudnnVersion,
                                            computeCapabilities: info.computeCapabilities, sources: [buildInfo])
                stack.attach(&framework, distribution, fs, report)
                stack.frameworks.append(framework)
            }
            for name in ["jax", "jaxlib"] where !stack.frameworks.contains(where: { $0.name == name }) {
                let path = "\(site)/\(name)/version.py"
                guard let text = fs.read(path, reportingTo: report) else { continue }
                var framework = MLFramework(name: name, version: parseJaxVersionFile(text), location: site,
                                            sources: [path])
                stack.attach(&framework, installed[name], fs, report)
                stack.frameworks.append(framework)
            }
        }
        // jax's CUDA comes from plugins named after the CUDA major (`jax-cuda12-plugin`, `jax-cuda12-pjrt`).
        for (key, item) in installed.sorted(by: { $0.key < $1.key }) where key.hasPrefix("jax-cuda") {
            let major = key.dropFirst("jax-cuda".count).prefix { $0.isNumber }
            guard !major.isEmpty else { continue }
            var framework = MLFramework(name: key, version: item.version, location: item.site,
                                        cudaVersion: String(major))
            stack.attach(&framework, item, fs, report)
            stack.frameworks.append(framework)
        }

        var frameworks = stack.frameworks
        for index in frameworks.indices {
            stack.resolveLibraries(&frameworks[index], installed: installed, runtimeLibraries: runtimeLibraries)
        }
        stack.frameworks = frameworks
        stack.frameworks.sort { $0.name < $1.name }
        return stack
    }

    /// Adds the distribution's dist-info (as a source) and its NVIDIA/CUDA pins.
    func attach(_ framework: inout MLFramework, _ distribution: Installed?, _ fs: RootedFileSystem, _ report: ProbeReport) {
        guard let distribution else { return }
        framework.distribution = distribution.name
        if framework.version == nil { framework.version = distribution.version }
        guard let distInfo = distribution.distInfo else { return }
        let metadataPath = distInfo + "/METADATA"
        guard let metadata = fs.read(metadataPath, reportingTo: report) else { return }
        framework.sources = (framework.sources + [metadataPath]).sorted()
        var pins: [FrameworkPin] = []
        for requirement in parseRequiresDist(metadata) {
            let key = normalizeDistributionName(requirement.name)
            guard key.hasPrefix("nvidia-") || key == "cuda-toolkit" || key == "cuda-bindings" else { continue }
            pins.append(FrameworkPin(name: requirement.name, specifier: requirement.specifier,
                                     extras: requirement.extras.isEmpty ? nil : requirement.extras,
                                     extra: requirement.extra))
        }
        framework.pins = pins.isEmpty ? nil : pins.sorted { ($0.name, $0.extra ?? "") < ($1.name, $1.extra ?? "") }
    }

    /// Fills the pins' installed versions, the libraries the framework will load, and the
    /// conflicts: pins not satisfied, a library on LD_LIBRARY_PATH shadowing the wheel.
    mutating func resolveLibraries(_ framework: inout MLFramework, installed: [String: Installed],
                                   runtimeLibraries: [CUDAProbe.RuntimeLibrary])
    {
        var families: [String] = []
        var preferred: [String: String] = [:]  // family → pinned wheel
        var extrasInUse = Set<String>()
        for pin in framework.pins ?? [] where pin.extra != nil {
            if installed[normalizeDistributionName(pin.name)] != nil { extrasInUse.insert(pin.extra!) }
        }
        for index in (framework.pins ?? []).indices {
            var pin = framework.pins![index]
            let key = normalizeDistributionName(pin.name)
            if let item = installed[key] {
                pin.installed = item.version
                pin.satisfied = pin.specifier.map { pep440Satisfies(item.version, $0) } ?? true
            }
            framework.pins![index] = pin
            // Requirements of an extra nobody installed (`tensorflow[and-cuda]` without the wheels) are not needed.
            if let extra = pin.extra, !extrasInUse.contains(extra) { continue }
            if let (libraries, _) = nvidiaWheelLibraries(key) {
                families += libraries
                for library in libraries { preferred[library] = key }
            }
            if key == "cuda-toolkit" {
                families += (pin.extras ?? []).flatMap { cudaToolkitExtraFamilies[$0] ?? [] }
            }
            if pin.installed == nil {
                conflicts.append(CUDAConflict(
                    kind: "pin-missing", framework: framework.name,
                    message: "\(framework.name) \(framework.version ?? "") requires \(pin.name)"
                        + "\(pin.specifier ?? ""), which is not installed"))
            } else if pin.satisfied == false {
                conflicts.append(CUDAConflict(
                    kind: "pin-not-satisfied", framework: framework.name,
                    message: "\(framework.name) \(framework.version ?? "") requires \(pin.name)"
                        + "\(pin.specifier ?? ""), installed: \(pin.installed!)"))
            }
        }
        // A CUDA build with no pins (conda, source builds): the families it is known to load.
        if families.isEmpty, framework.cudaVersion != nil {
            families = ["cudart", "cublas", "cudnn", "nccl"]
        }
        let frameworkMajor = framework.cudaVersion.flatMap { $0.split(separator: ".").first.map(String.init) }

        var libraries: [FrameworkLibrary] = []
        for family in Set(families).sorted() {
            // The wheel: the pinned one, else one built for the framework's CUDA major.
            let candidates = wheels.filter { $0.libraries.contains(family) }
            let wheel = candidates.first { normalizeDistributionName($0.name) == preferred[family] }
                ?? candidates.first { $0.cudaMajor == nil || $0.cudaMajor == frameworkMajor }
            let wheelSoname = wheel.flatMap { wheelSonameMajor($0, family) }
            // LD_LIBRARY_PATH first: the loaded file of the same family (and soname major, when known).
            let fromPath = runtimeLibraries.first {
                $0.library == family && $0.foundIn == "LD_LIBRARY_PATH" && $0.shadowed != true
                    && (wheelSoname == nil || $0.sonameVersion == wheelSoname)
            }
            if let fromPath {
                libraries.append(FrameworkLibrary(name: family, version: fromPath.version, source: "LD_LIBRARY_PATH",
                                                  file: fromPath.path))
                if let wheel {
                    conflicts.append(CUDAConflict(
                        kind: "library-path-shadows-wheel", framework: framework.name, library: family,
                        message: "\(fromPath.path) (\(fromPath.version ?? "unknown version")) on LD_LIBRARY_PATH is "
                            + "loaded before the wheel \(wheel.name) \(wheel.version) that \(framework.name) "
                            + "was built with"))
                }
            } else if let wheel {
                let file = wheel.files?.first { path in
                    let name = path.split(separator: "/").last.map(String.init) ?? ""
                    return cudaLibraryFamily(soname: name) == family
                }
                libraries.append(FrameworkLibrary(name: family, version: wheel.version, source: "wheel",
                                                  distribution: wheel.name,
                                                  file: file.map { "\(wheel.location)/\($0)" }))
            } else if let cached = runtimeLibraries.first(where: {
                $0.library == family && $0.foundIn == "ld.so.cache" && $0.shadowed != true
            }) {
                libraries.append(FrameworkLibrary(name: family, version: cached.version, source: "ld.so.cache",
                                                  file: cached.path))
            }
        }
        framework.libraries = libraries.isEmpty ? nil : libraries
    }

    /// The soname major a wheel's library has: from its RECORD (`libcudnn.so.9` → `9`), else the
    /// wheel version's major for the libraries whose soname follows it (all but nvToolsExt, `.so.1`).
    func wheelSonameMajor(_ wheel: CUDAWheel, _ family: String) -> String? {
        for path in wheel.files ?? [] {
            let name = path.split(separator: "/").last.map(String.init) ?? ""
            if cudaLibraryFamily(soname: name) == family, let version = sonameVersion(name) {
                return version.split(separator: ".").first.map(String.init)
            }
        }
        if family == "nvToolsExt" { return "1" }
        return wheel.version.split(separator: ".").first.map(String.init)
    }
}
