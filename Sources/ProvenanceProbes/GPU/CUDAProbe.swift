import ProvenanceCore
import ProvenanceProbeKit

/// The GPU software stack: the CUDA toolkit installed, the CUDA libraries programs load, cuDNN
/// and NCCL header versions, ROCm's version, and the `*_VISIBLE_DEVICES` variables.
///
/// Three different "CUDA versions" exist on a machine; this probe reports two of them under names
/// that cannot be confused:
/// - `toolkit.version`: the CUDA toolkit installed (what compiles code: nvcc, headers). From
///   `/usr/local/cuda/version.json`, else `CUDA_VERSION` in `/usr/local/cuda/include/cuda.h` or
///   `/usr/include/cuda.h` (`11080` → `11.8`), else `nvcc --version` (`release 11.8, V11.8.89` →
///   `11.8.89`); `toolkit.source` says which answered.
/// - `runtimeLibraries`: the libcudart, libcudnn, libnccl, libcublas, … files the dynamic linker
///   loads (what runs code, possibly from another CUDA release than the toolkit): first those in
///   the directories of `LD_LIBRARY_PATH`, which the dynamic linker searches first, then the
///   entries of `/etc/ld.so.cache` (parsed, `parseLdSoCache`). Versions come from the soname
///   (`libcudart.so.12` → 12) and from the file its links lead to under the root
///   (`libcudart.so.12.2.140` → `12.2.140`).
/// - The newest CUDA version the *driver* supports is not this probe's: `gpu.nvidia` reports it
///   as `cudaDriverVersion` (from nvidia-smi, which this probe never runs).
///
/// Also reads `cudnn_version.h` (else `cudnn.h`) and `nccl.h` in `/usr/include` and
/// `/usr/local/cuda/include`, `/opt/rocm/.info/version`, and `CUDA_VISIBLE_DEVICES`,
/// `ROCR_VISIBLE_DEVICES` and `HIP_VISIBLE_DEVICES` from the captured process's environment.
/// - `pythonWheels` and `frameworks`: the NVIDIA wheels (`nvidia-*-cu12`, …) in the job's Python
///   and, per framework, the CUDA it was built against and which library it will load from
///   where (a wheel, LD_LIBRARY_PATH, ld.so.cache); `conflicts` flags what breaks that
///   (`PythonCUDAStack`).
///
/// Runs `nvcc --version` (else `/usr/local/cuda/bin/nvcc --version`) only when neither
/// version.json nor cuda.h gives the toolkit version. `absent` when none of these exist.
public struct CUDAProbe: Probe {
    /// The Python the job starts (`JobInterpreter`), whose frameworks and wheels are described.
    public var pythonInterpreter: String?

    public init(pythonInterpreter: String? = nil) {
        self.pythonInterpreter = pythonInterpreter
    }

    /// The library families reported, by name (`cudart` for `libcudart.so.*`).
    public static let libraryFamilies: Set<String> = [
        "cudart", "cudnn", "nccl", "cublas", "cublasLt", "cufft", "curand", "cusolver", "cusparse", "nvrtc",
        "nvJitLink", "cupti", "nvToolsExt", "cutensor", "nvinfer",
    ]

    /// The environment variables that select GPUs.
    public static let visibleDevicesVariables = ["CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES"]

    static let headerDirectories = ["/usr/include", "/usr/local/cuda/include"]

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "cuda", version: "1.1.0",
            summary: "CUDA toolkit version, CUDA libraries the dynamic linker loads, cuDNN/NCCL header versions, "
                + "ROCm version, *_VISIBLE_DEVICES, NVIDIA wheels and the CUDA Python frameworks load",
            reads: ["/usr/local/cuda/version.json", "/usr/local/cuda/include/cuda.h", "/usr/include/cuda.h",
                    "/etc/ld.so.cache", "$LD_LIBRARY_PATH/lib*.so.*",
                    "/usr/include/{cudnn_version.h,cudnn.h,nccl.h}",
                    "/usr/local/cuda/include/{cudnn_version.h,cudnn.h,nccl.h}", "/opt/rocm/.info/version",
                    "SITE/torch/version.py", "SITE/tensorflow/python/platform/build_info.py",
                    "SITE/{jax,jaxlib}/version.py", "SITE/*.dist-info/{METADATA,RECORD}",
                    "environment: CUDA_VISIBLE_DEVICES, ROCR_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES, LD_LIBRARY_PATH"]
                // The python probe's search for the interpreter and its site directories, run again here.
                + PythonProbe().descriptor.reads,
            runs: ["nvcc --version (only without version.json and cuda.h)"])
    }

    /// Remembered while every file it read (version.json, the headers, /etc/ld.so.cache, the
    /// libraries' links, the job's Python) and the variables it reads are unchanged; never when
    /// it ran nvcc (`SectionCache`).
    public var sectionCacheKey: SectionCacheKey? {
        SectionCacheKey(settings: [pythonInterpreter ?? ""],
                        environment: Self.visibleDevicesVariables + ["LD_LIBRARY_PATH"] + PythonProbe.environmentRead,
                        process: true)
    }

    public typealias Output = CUDASection
    public typealias Toolkit = CUDASection.Toolkit
    public typealias RuntimeLibrary = CUDASection.RuntimeLibrary
    public typealias LibraryHeader = CUDASection.LibraryHeader
    public typealias ROCm = CUDASection.ROCm

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let fs = context.fs
        var output = Output()
        output.toolkit = readToolkit(context, report)
        let libraries = readRuntimeLibraries(context, report)
        output.runtimeLibraries = libraries.isEmpty ? nil : libraries
        let headers = readHeaders(fs, report)
        output.libraryHeaders = headers.isEmpty ? nil : headers

        if let version = readText(fs, "/opt/rocm/.info/version", report)?.trimmed, !version.isEmpty {
            output.rocm = ROCm(version: version, linkTarget: fs.readLink("/opt/rocm"))
        }

        var visible: [String: VisibleDevices] = [:]
        for name in Self.visibleDevicesVariables {
            if let value = context.environment[name] { visible[name] = parseVisibleDevices(value) }
        }
        output.visibleDevices = visible.isEmpty ? nil : visible

        let stack = PythonCUDAStack.read(context, runtimeLibraries: libraries, python: PythonProbe(
            interpreter: pythonInterpreter, distributionNamePrefixes: PythonCUDAStack.distributionNamePrefixes), report)
        output.pythonWheels = stack.wheels.isEmpty ? nil : stack.wheels
        output.frameworks = stack.frameworks.isEmpty ? nil : stack.frameworks
        output.conflicts = stack.conflicts.isEmpty ? nil : stack.conflicts

        if output == Output() && report.issues.isEmpty {
            throw ProbeAbsent(source: "/usr/local/cuda",
                              reason: "no CUDA toolkit, CUDA libraries, cuDNN/NCCL headers, ROCm, NVIDIA wheels, "
                                  + "CUDA frameworks or *_VISIBLE_DEVICES")
        }
        return output
    }

    // MARK: - Toolkit

    func readToolkit(_ context: ProbeContext, _ report: ProbeReport) -> Toolkit? {
        let fs = context.fs
        let linkTarget = fs.readLink("/usr/local/cuda")
        let versionJSON = "/usr/local/cuda/version.json"
        if let text = readText(fs, versionJSON, report) {
            do {
                let parsed = try parseCUDAVersionJSON(text)
                if let version = parsed.version {
                    return Toolkit(version: version, source: "version.json", sourcePath: versionJSON,
                                   linkTarget: linkTarget, components: parsed.components.isEmpty ? nil : parsed.components)
                }
                report.issue(versionJSON, "no cuda.version entry")
            } catch {
                report.issue(versionJSON, "\(error)")
            }
        }
        for path in ["/usr/local/cuda/include/cuda.h", "/usr/include/cuda.h"] {
            guard let text = readText(fs, path, report) else { continue }
            if let version = parseCUDAHeaderVersion(text) {
                return Toolkit(version: version, source: "cuda.h", sourcePath: path,
                               linkTarget: path.hasPrefix("/usr/local/cuda/") ? linkTarget : nil)
            }
            report.issue(path, "no CUDA_VERSION definition")
        }

        var commands = [["nvcc", "--version"]]
        if fs.exists("/usr/local/cuda/bin/nvcc") { commands.append(["/usr/local/cuda/bin/nvcc", "--version"]) }
        for argv in commands {
            let result = context.run(argv)
            if result.outcome == .notFound { continue }
            let commandLine = argv.joined(separator: " ")
            guard result.succeeded else {
                report.issue(commandLine, result.failureDescription)
                return nil
            }
            guard let parsed = parseNVCCVersion(result.stdoutText) else {
                report.issue(commandLine, "no 'release X.Y, VX.Y.Z' line in its output")
                return nil
            }
            return Toolkit(version: parsed.version, source: "nvcc", sourcePath: commandLine,
                           linkTarget: argv[0].hasPrefix("/usr/local/cuda/") ? linkTarget : nil,
                           nvccRelease: parsed.release, nvccPath: result.executable)
        }
        return nil
    }

    // MARK: - Runtime libraries

    func readRuntimeLibraries(_ context: ProbeContext, _ report: ProbeReport) -> [RuntimeLibrary] {
        let fs = context.fs
        var found: [RuntimeLibrary] = []

        // LD_LIBRARY_PATH comes first in the dynamic linker's search (after a program's RPATH).
        let directories = (context.environment["LD_LIBRARY_PATH"] ?? "").split(separator: ":").map(String.init)
        for directory in directories where directory.hasPrefix("/") {
            guard let names = try? fs.list(directory) else { continue }
            for name in names {
                guard let family = cudaLibraryFamily(soname: name), let version = sonameVersion(name),
                      !version.contains(".") else { continue }
                found.append(library(family: family, soname: name, path: joinPath(directory, name),
                                     foundIn: "LD_LIBRARY_PATH", abi: nil, fs))
            }
        }

        let cachePath = "/etc/ld.so.cache"
        do {
            if let bytes = try fs.readBytes(cachePath) {
                for entry in try parseLdSoCache(bytes) {
                    guard let family = cudaLibraryFamily(soname: entry.soname) else { continue }
                    var item = library(family: family, soname: entry.soname, path: entry.path, foundIn: "ld.so.cache",
                                       abi: entry.abi, fs)
                    if entry.hwcap != 0 { item.abi = "\(entry.abi), hwcap: 0x\(hex(entry.hwcap, 16))" }
                    found.append(item)
                }
            }
        } catch let error as LdSoCacheError {
            report.issue(cachePath, error.description)
        } catch {
            report.issue(cachePath, "\(error)")
        }

        // The first of each soname is the one loaded: LD_LIBRARY_PATH before the cache, and in
        // the cache the first entry of the program's ABI.
        var inLibraryPath = Set<String>()
        var inCache = Set<String>()
        for index in found.indices {
            let soname = found[index].soname
            if found[index].foundIn == "LD_LIBRARY_PATH" {
                if !inLibraryPath.insert(soname).inserted { found[index].shadowed = true }
            } else if inLibraryPath.contains(soname) || !inCache.insert("\(soname)|\(found[index].abi ?? "")").inserted {
                found[index].shadowed = true
            }
        }
        // Sorted by soname; within one soname the search order is kept (stable sort).
        return found.enumerated().sorted { ($0.element.soname, $0.offset) < ($1.element.soname, $1.offset) }
            .map(\.element)
    }

    func library(family: String, soname: String, path: String, foundIn: String, abi: String?,
                 _ fs: RootedFileSystem) -> RuntimeLibrary
    {
        var item = RuntimeLibrary(library: family, soname: soname, path: path, foundIn: foundIn, abi: abi,
                                  sonameVersion: sonameVersion(soname))
        if let file = resolveLinks(fs, path) {
            let name = String(file.split(separator: "/").last ?? "")
            if name != soname {
                item.file = name
                item.version = sonameVersion(name)
            }
        }
        item.version = item.version ?? item.sonameVersion
        return item
    }

    /// Follows symbolic links from `path` under the root (at most 8); the final path, or nil when
    /// `path` is not a link.
    func resolveLinks(_ fs: RootedFileSystem, _ path: String) -> String? {
        var current = path
        var followed = false
        for _ in 0..<8 {
            guard let target = fs.readLink(current) else { break }
            followed = true
            if target.hasPrefix("/") {
                current = target
            } else {
                let directory = current.split(separator: "/", omittingEmptySubsequences: false).dropLast()
                    .joined(separator: "/")
                current = joinPath(directory.isEmpty ? "/" : directory, target)
            }
        }
        return followed ? current : nil
    }

    // MARK: - Headers

    func readHeaders(_ fs: RootedFileSystem, _ report: ProbeReport) -> [LibraryHeader] {
        var headers: [LibraryHeader] = []
        for directory in Self.headerDirectories {
            for (library, files) in [("cudnn", ["cudnn_version.h", "cudnn.h"]), ("nccl", ["nccl.h"])] {
                for file in files {
                    let path = "\(directory)/\(file)"
                    guard let text = readText(fs, path, report) else { continue }
                    let version = library == "cudnn" ? parseCuDNNVersionHeader(text) : parseNCCLHeader(text)
                    if let version {
                        headers.append(LibraryHeader(library: library, path: path, version: version))
                        break
                    }
                    // cudnn.h of cuDNN 8 and later has no version: cudnn_version.h does.
                    if file != "cudnn.h" { report.issue(path, "no version definitions") }
                }
            }
        }
        return headers.sorted { $0.path < $1.path }
    }

    func readText(_ fs: RootedFileSystem, _ path: String, _ report: ProbeReport) -> String? {
        do {
            return try fs.read(path)
        } catch {
            report.issue(path, error.message)
            return nil
        }
    }
}

// MARK: - Parsers

/// The toolkit version and component versions of a CUDA `version.json`
/// (`{"cuda": {"name": "CUDA SDK", "version": "12.8.2"}, "cuda_nvcc": {"name": …, "version": "12.8.93"}, …}`).
public func parseCUDAVersionJSON(_ text: String) throws(JSONParser.Error) -> (version: String?, components: [String: String]) {
    let json = try JSONParser.parse(text)
    var components: [String: String] = [:]
    for (key, value) in json.objectValue ?? [:] where key != "cuda" {
        if let version = value["version"]?.stringValue { components[key] = version }
    }
    return (json["cuda"]?["version"]?.stringValue, components)
}

/// `#define NAME VALUE` lines of a C header: name → value (first word after the name).
public func parseCDefines(_ text: String) -> [String: String] {
    var defines: [String: String] = [:]
    for line in text.lines {
        var rest = line.trimmed
        guard rest.hasPrefix("#") else { continue }
        rest = String(rest.dropFirst()).trimmed
        guard rest.hasPrefix("define ") || rest.hasPrefix("define\t") else { continue }
        let words = rest.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count >= 3 else { continue }
        let name = String(words[1])
        if defines[name] == nil { defines[name] = String(words[2]) }
    }
    return defines
}

/// The toolkit version of `cuda.h`: `#define CUDA_VERSION 11080` → `11.8` (major × 1000 + minor × 10).
public func parseCUDAHeaderVersion(_ text: String) -> String? {
    guard let value = parseCDefines(text)["CUDA_VERSION"].flatMap({ Int($0) }), value > 0 else { return nil }
    return "\(value / 1000).\(value % 1000 / 10)"
}

/// cuDNN's version from `cudnn_version.h` (cuDNN 8+) or `cudnn.h` (older): `CUDNN_MAJOR`,
/// `CUDNN_MINOR`, `CUDNN_PATCHLEVEL` → `8.2.1`.
public func parseCuDNNVersionHeader(_ text: String) -> String? {
    let defines = parseCDefines(text)
    guard let major = defines["CUDNN_MAJOR"].flatMap({ Int($0) }),
          let minor = defines["CUDNN_MINOR"].flatMap({ Int($0) }),
          let patch = defines["CUDNN_PATCHLEVEL"].flatMap({ Int($0) }) else { return nil }
    return "\(major).\(minor).\(patch)"
}

/// NCCL's version from `nccl.h`: `NCCL_MAJOR`, `NCCL_MINOR`, `NCCL_PATCH` (+ `NCCL_SUFFIX` when
/// not empty) → `2.18.3`.
public func parseNCCLHeader(_ text: String) -> String? {
    let defines = parseCDefines(text)
    guard let major = defines["NCCL_MAJOR"].flatMap({ Int($0) }),
          let minor = defines["NCCL_MINOR"].flatMap({ Int($0) }),
          let patch = defines["NCCL_PATCH"].flatMap({ Int($0) }) else { return nil }
    let suffix = (defines["NCCL_SUFFIX"] ?? "").trimmingCharacters(in: "\"")
    return "\(major).\(minor).\(patch)\(suffix)"
}

/// `nvcc --version`: the line `Cuda compilation tools, release 11.8, V11.8.89` → release `11.8`,
/// version `11.8.89`.
public func parseNVCCVersion(_ text: String) -> (release: String, version: String)? {
    for line in text.lines {
        guard let releaseRange = line.firstRange(of: "release ") else { continue }
        let rest = line[releaseRange.upperBound...]
        guard let comma = rest.firstIndex(of: ",") else { continue }
        let release = rest[..<comma].trimmed
        let after = rest[rest.index(after: comma)...].trimmed
        guard !release.isEmpty, after.hasPrefix("V") else { continue }
        let version = after.dropFirst().prefix { $0.isNumber || $0 == "." }
        guard !version.isEmpty else { continue }
        return (release, String(version))
    }
    return nil
}

/// The library family of a soname when it is one the cuda probe reports: `libcudart.so.12` →
/// `cudart`; `libcudnn_ops_infer.so.8` and `libfoo.so.1` → nil.
public func cudaLibraryFamily(soname: String) -> String? {
    // Bytes for an ASCII name, which every real soname is: the cache lists a thousand names or
    // more, and `firstRange(of:)` on characters was 40% of the cuda probe's time.
    var bytes = soname
    if case .some(let family) = bytes.withUTF8(asciiCUDALibraryFamily) { return family }
    return cudaLibraryFamilyByCharacters(soname)
}

/// `cudaLibraryFamily(soname:)` on characters: any name, and the reference the byte path is
/// tested against.
func cudaLibraryFamilyByCharacters(_ soname: String) -> String? {
    guard soname.hasPrefix("lib"), let range = soname.firstRange(of: ".so") else { return nil }
    let name = String(soname[soname.index(soname.startIndex, offsetBy: 3)..<range.lowerBound])
    let rest = soname[range.upperBound...]
    guard CUDAProbe.libraryFamilies.contains(name),
          rest.isEmpty || (rest.hasPrefix(".") && rest.dropFirst().allSatisfy { $0.isNumber || $0 == "." })
    else { return nil }
    return name
}

/// `cudaLibraryFamily(soname:)` on the bytes of an ASCII name; nil (not `.some(nil)`) for any
/// other name, which that function then reads by characters.
private func asciiCUDALibraryFamily(_ bytes: UnsafeBufferPointer<UInt8>) -> String?? {
    guard !bytes.contains(where: { $0 >= 0x80 }) else { return nil }
    guard bytes.count > 3, bytes[0] == UInt8(ascii: "l"), bytes[1] == UInt8(ascii: "i"), bytes[2] == UInt8(ascii: "b")
    else { return .some(nil) }
    var dot = 3
    while dot + 3 <= bytes.count
        && !(bytes[dot] == UInt8(ascii: ".") && bytes[dot + 1] == UInt8(ascii: "s") && bytes[dot + 2] == UInt8(ascii: "o")) {
        dot += 1
    }
    guard dot + 3 <= bytes.count else { return .some(nil) }
    var index = dot + 3
    if index < bytes.count {
        guard bytes[index] == UInt8(ascii: ".") else { return .some(nil) }
        index += 1
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: ".") || (bytes[index] >= 0x30 && bytes[index] <= 0x39) else { return .some(nil) }
            index += 1
        }
    }
    let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[3..<dot]), as: UTF8.self)
    return .some(CUDAProbe.libraryFamilies.contains(name) ? name : nil)
}

/// The version after `.so.` in a library file name: `libcudart.so.12.2.140` → `12.2.140`; nil without one.
public func sonameVersion(_ name: String) -> String? {
    guard let range = name.firstRange(of: ".so.") else { return nil }
    let version = String(name[range.upperBound...])
    return version.isEmpty ? nil : version
}

/// Parses `CUDA_VISIBLE_DEVICES` (and the ROCm variables, which use the same form): a
/// comma-separated list of device indices or UUIDs (`GPU-…`, `MIG-…`), read until the first
/// entry that is neither. An empty value selects no device.
public func parseVisibleDevices(_ value: String) -> VisibleDevices {
    var result = VisibleDevices(value: value, devices: [])
    let entries = value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmed }
    if value.trimmed.isEmpty { return result }
    for (position, entry) in entries.enumerated() {
        if let index = Int(entry), index >= 0, entry.allSatisfy(\.isNumber) {
            result.devices.append(VisibleDevice(index: index))
        } else if entry.hasPrefix("GPU-") || entry.hasPrefix("MIG-") {
            result.devices.append(VisibleDevice(uuid: entry))
        } else {
            result.ignored = Array(entries[position...])
            break
        }
    }
    return result
}

/// `directory/name` without a doubled slash.
func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}
