/// The facts of a manifest worth a paper's "computational environment" appendix, read from each
/// section's model (`SectionModel`). Pure and forgiving: a section that is missing, skipped, or
/// does not decode as its model contributes nothing and never fails the rendering.
public struct EnvironmentSummary: Sendable, Equatable {
    /// A titled group of `label: value` rows (Hardware, Operating system, ...).
    public struct Group: Sendable, Equatable {
        public var title: String
        public var rows: [Row]
    }

    public struct Row: Sendable, Equatable {
        public var label: String
        public var value: String
    }

    /// One section's data flattened to `path = value` rows (for `--full`).
    public struct FlatSection: Sendable, Equatable {
        public var id: String
        public var status: String
        public var rows: [Row]
    }

    public var groups: [Group]
    public var full: [FlatSection]?

    /// Python distributions named in the summary when installed (normalised names).
    public static let notableDistributions = [
        "numpy", "scipy", "pandas", "scikit-learn", "torch", "torchvision", "jax", "jaxlib", "tensorflow",
        "keras", "transformers", "cupy", "triton", "mpi4py", "numba",
    ]

    public init(manifest: JSONValue, full: Bool = false) {
        let sections = manifest["sections"]?.objectValue ?? [:]
        func data(_ id: String) -> JSONValue? {
            guard let section = sections[id], section["status"]?.stringValue != "skipped" else { return nil }
            return section["data"]
        }
        // Each built-in section is read as its model; one that does not decode (another schema
        // version, a damaged file) contributes nothing rather than guessed fields.
        func model<M: SectionModel>(_ type: M.Type) -> M? { M.read(from: manifest) }
        var groups: [Group] = []

        // Hardware.
        var hardware: [Row] = []
        let os = model(OSSection.self)
        if let cpu = model(CPUSection.self) {
            var name = cpu.modelName
            if name == nil, let types = cpu.coreTypes, !types.isEmpty {
                name = types.compactMap { type -> String? in
                    guard let typeName = type.modelName ?? type.partName else { return nil }
                    return "\(type.count) × \(typeName)"
                }.joined(separator: " + ")
            }
            if name == nil || name!.isEmpty {
                name = [cpu.vendor, cpu.identification["partName"]].compactMap { $0 }.joined(separator: " ")
            }
            if let name, !name.isEmpty { hardware.append(Row(label: "CPU", value: name)) }
            var counts: [String] = []
            if let topology = cpu.topology {
                if let sockets = topology.sockets { counts.append("\(sockets) socket\(sockets == 1 ? "" : "s")") }
                if let cores = topology.cores { counts.append("\(cores) cores") }
            }
            counts.append("\(cpu.logicalCPUs) logical CPUs")
            hardware.append(Row(label: "CPU count", value: counts.joined(separator: ", ")))
            if let family = cpu.architectureFamily, os?.architecture == nil {
                hardware.append(Row(label: "Architecture", value: family))
            }
        }
        if let bytes = model(MemorySection.self)?.memTotalBytes {
            hardware.append(Row(label: "Memory", value: EnvironmentSummary.formatBytes(bytes)))
        }
        if !hardware.isEmpty { groups.append(Group(title: "Hardware", rows: hardware)) }

        // Accelerators.
        var accelerators: [Row] = []
        if let nvidia = model(NVIDIASection.self) { accelerators += EnvironmentSummary.rows(nvidia) }
        if let amd = model(AMDSection.self) { accelerators += EnvironmentSummary.rows(amd) }
        if let cuda = model(CUDASection.self) { accelerators += EnvironmentSummary.rows(cuda) }
        // Accelerator sections of site probes (no model): their scalar facts.
        for id in sections.keys.sorted() where (id.hasPrefix("gpu") || id.hasPrefix("cuda") || id == "rocm")
            && SectionModels.model(for: id) == nil
        {
            if let value = data(id) { accelerators += EnvironmentSummary.summaryRows(of: value, prefix: id) }
        }
        if !accelerators.isEmpty { groups.append(Group(title: "Accelerators", rows: accelerators)) }

        // Operating system.
        var system: [Row] = []
        if let os {
            let release = os.osRelease ?? [:]
            if let name = release["PRETTY_NAME"]
                ?? [release["NAME"], release["VERSION"] ?? release["VERSION_ID"]].compactMap({ $0 }).joined(separator: " ").nonEmpty
            {
                system.append(Row(label: "Distribution", value: name))
            }
            if let kernel = os.kernel.release { system.append(Row(label: "Kernel", value: kernel)) }
            if let architecture = os.architecture { system.append(Row(label: "Architecture", value: architecture)) }
        }
        if let libc = model(LibcSection.self) {
            system.append(Row(label: "C library", value: [libc.implementation, libc.version].compactMap { $0 }.joined(separator: " ")))
        }
        if let container = model(ContainerSection.self), let engine = container.engine {
            system.append(Row(label: "Container", value: [engine, container.imageName, container.imageDigest ?? container.imageId]
                .compactMap { $0 }.joined(separator: ", ")))
        }
        if !system.isEmpty { groups.append(Group(title: "Operating system", rows: system)) }

        // Software.
        var software: [Row] = []
        if let python = model(PythonSection.self) {
            software.append(Row(label: "Python", value: "Python \(python.version ?? "(version unknown)") (\(python.environmentKind))"))
            var installed: [String: String] = [:]
            let named = python.distributions.map { ($0.name, $0.version) } + (python.condaPackages ?? []).map { ($0.name, $0.version) }
            for (name, version) in named {
                installed[normalizeDistributionName(name)] = installed[normalizeDistributionName(name)] ?? version
            }
            for name in EnvironmentSummary.notableDistributions {
                if let version = installed[name] { software.append(Row(label: name, value: version)) }
            }
        }
        if let tools = model(ToolchainsSection.self)?.tools {
            for name in ["nvcc", "gcc", "clang", "rustc", "go", "java", "swift"] {
                if let version = tools[name]?.version { software.append(Row(label: name, value: version)) }
            }
        }
        if !software.isEmpty { groups.append(Group(title: "Software", rows: software)) }
        // System packages: the count, and the few that change numerical results or speed (the
        // whole list, thousands of lines, is one flag away: --full).
        var packages: [Row] = []
        func addPackages(_ manager: String, _ count: Int, _ installed: [InstalledPackage]) {
            packages.append(Row(label: "\(manager) packages", value: "\(count) installed (all listed with --full)"))
            for package in installed where EnvironmentSummary.isKeyPackage(package.name) && packages.count <= 30 {
                packages.append(Row(label: package.name, value: package.version))
            }
        }
        if let dpkg = model(DpkgSection.self) { addPackages("dpkg", dpkg.count, dpkg.packages) }
        if let rpm = model(RpmSection.self) { addPackages("rpm", rpm.count, rpm.packages) }
        if let apk = model(ApkSection.self) { addPackages("apk", apk.count, apk.packages) }
        if !packages.isEmpty { groups.append(Group(title: "System packages", rows: packages)) }
        groups += EnvironmentSummary.stackGroups(data)
        // Determinism settings the frameworks ask for that the job's environment lacked.
        if let advice = model(RunSection.self)?.determinism, !advice.isEmpty {
            groups.append(Group(title: "Determinism", rows: advice.map {
                Row(label: $0.variable, value: "not set (\($0.framework) asks for \($0.recommended): \($0.reason))")
            }))
        }

        // Code.
        if let git = model(GitSection.self), !git.repositories.isEmpty {
            groups.append(Group(title: "Code", rows: git.repositories.flatMap(EnvironmentSummary.rows)))
        }

        // Datasets.
        if let datasets = model(DatasetsSection.self), !datasets.datasets.isEmpty {
            let rows = datasets.datasets.keys.sorted().map { name in
                Row(label: name, value: EnvironmentSummary.text(datasets.datasets[name]!))
            }
            groups.append(Group(title: "Datasets", rows: rows))
        }

        // The manifest itself.
        var record: [Row] = []
        if let fingerprint = manifest["fingerprint"]?.stringValue { record.append(Row(label: "Fingerprint", value: fingerprint)) }
        if let time = manifest["captureTime"]?.stringValue { record.append(Row(label: "Captured", value: time)) }
        let tool = [manifest["tool"]?["name"]?.stringValue, manifest["tool"]?["version"]?.stringValue].compactMap { $0 }
        if !tool.isEmpty { record.append(Row(label: "Tool", value: tool.joined(separator: " "))) }
        if let schema = manifest["schemaVersion"]?.stringValue { record.append(Row(label: "Schema", value: schema)) }
        groups.append(Group(title: "Manifest", rows: record))

        self.groups = groups
        if full {
            self.full = sections.keys.sorted().map { id in
                let section = sections[id]!
                var rows: [Row] = []
                if let data = section["data"] { EnvironmentSummary.flatten(data, path: "", into: &rows) }
                return FlatSection(id: id, status: section["status"]?.stringValue ?? "?", rows: rows)
            }
        }
    }


    /// System packages named in the default appendix: the C and C++ runtimes, compilers, MPI,
    /// BLAS/LAPACK/FFT, NCCL, cuDNN, the CUDA toolkit and the NVIDIA driver, ROCm, InfiniBand.
    static let keyPackageNames: Set<String> = [
        "libc6", "glibc", "musl", "libstdc++6", "libstdc++", "libgomp1", "libgomp", "gcc", "g++", "gfortran", "clang",
        "python3", "openmpi-bin", "libopenmpi3", "openmpi", "mpich", "libmpich12", "libblas3", "liblapack3",
        "libopenblas0", "libopenblas0-pthread", "openblas", "intel-mkl", "libmkl-rt", "libfftw3-double3", "fftw",
        "libnccl2", "libibverbs1", "rdma-core", "ucx", "libucx0", "slurm-client", "slurm",
    ]
    static let keyPackagePrefixes = ["libcudnn", "cuda-toolkit-", "cuda-runtime-", "nvidia-driver-", "libnccl", "rocm-core", "hip-runtime"]

    static func isKeyPackage(_ name: String) -> Bool {
        keyPackageNames.contains(name) || keyPackagePrefixes.contains { name.hasPrefix($0) }
    }

    /// `128 GiB (137438953472 bytes)`-style text, in integer arithmetic (one decimal).
    public static func formatBytes(_ bytes: Int64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var unit = 0
        var scale: Int64 = 1
        while unit + 1 < units.count, bytes / scale >= 1024 { scale *= 1024; unit += 1 }
        guard unit > 0 else { return bytes == 1 ? "1 byte" : "\(bytes) bytes" }
        // Whole units and the remainder apart: `bytes * 10` overflows from 9.22e17 bytes on.
        let tenths = bytes / scale * 10 + (bytes % scale * 10 + scale / 2) / scale
        let text = tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
        return "\(text) \(units[unit]) (\(bytes) bytes)"
    }

    /// Rows for a section of unknown shape: its scalar members, and for each array of records a
    /// count with the records' names grouped (`2 × NVIDIA A100-SXM4-80GB`).
    static func summaryRows(of value: JSONValue, prefix: String) -> [Row] {
        guard case .object(let object) = value else {
            let text = scalarText(value)
            return text.isEmpty ? [] : [Row(label: prefix, value: text)]
        }
        var rows: [Row] = []
        for key in CanonicalJSON.sortedKeys(object) {
            let member = object[key]!
            switch member {
            case .string, .int, .bool, .double:
                rows.append(Row(label: "\(prefix) \(key)", value: scalarText(member)))
            case .array(let items) where items.contains(where: { $0.objectValue != nil }):
                var counts: [String: Int] = [:]
                var order: [String] = []
                for item in items {
                    let name = ["name", "productName", "product", "model", "marketingName", "id"]
                        .lazy.compactMap { item[$0]?.stringValue }.first ?? "unnamed"
                    if counts[name] == nil { order.append(name) }
                    counts[name, default: 0] += 1
                }
                let text = order.map { counts[$0]! == 1 ? $0 : "\(counts[$0]!) × \($0)" }.joined(separator: ", ")
                rows.append(Row(label: "\(prefix) \(key)", value: "\(items.count): \(text)"))
            case .array(let items) where !items.isEmpty && items.count <= 16:
                rows.append(Row(label: "\(prefix) \(key)", value: items.map(scalarText).joined(separator: ", ")))
            case .object(let nested) where nested.values.allSatisfy({ $0.objectValue == nil && $0.arrayValue == nil }) && !nested.isEmpty:
                for nestedKey in CanonicalJSON.sortedKeys(nested) {
                    rows.append(Row(label: "\(prefix) \(key).\(nestedKey)", value: scalarText(nested[nestedKey]!)))
                }
            default:
                continue
            }
        }
        return rows
    }

    /// Model, count, memory, driver and CUDA versions, and the MIG layout in words.
    static func rows(_ nvidia: NVIDIASection) -> [Row] {
        var rows: [Row] = []
        var gpus = NVIDIASection.modelCounts(nvidia.gpus).map { entry -> String in
            let memory = nvidia.gpus.first { ($0.productName ?? "NVIDIA GPU") == entry.model }?.memoryTotalBytes
            return "\(entry.count) × \(entry.model)" + (memory.map { ", \(formatBytes($0).prefix { $0 != "(" }.trimmingSuffixSpace) each" } ?? "")
        }.joined(separator: "; ")
        if nvidia.gpus.isEmpty { gpus = "\(nvidia.gpuCount)" }
        if let attached = nvidia.attachedGPUs, attached != nvidia.gpus.count {
            gpus += " (nvidia-smi reports \(attached) attached, describes \(nvidia.gpus.count))"
        }
        rows.append(Row(label: "NVIDIA GPUs", value: gpus))
        if let driver = nvidia.driverVersion { rows.append(Row(label: "NVIDIA driver", value: driver)) }
        if let cuda = nvidia.cudaDriverVersion { rows.append(Row(label: "CUDA (driver supports up to)", value: cuda)) }
        if let mig = migText(nvidia.gpus) { rows.append(Row(label: "MIG", value: mig)) }
        return rows
    }

    /// "enabled on 0000:01:00.0: 4 MIG devices, each 14 SMs and 19.5 GiB" (per GPU, `;`-separated),
    /// "disabled" when every GPU reports it off, nil when no GPU reports a MIG mode.
    static func migText(_ gpus: [NVIDIAGPU]) -> String? {
        var parts: [String] = []
        var reported = false
        for (index, gpu) in gpus.enumerated() {
            guard let mode = gpu.migMode?.current else { continue }
            reported = true
            guard mode == "Enabled" else { continue }
            let name = gpu.pciBusIdNormalized ?? "GPU \(index)"
            let devices = gpu.migDevices ?? []
            var shapes: [String] = []
            var counts: [String: Int] = [:]
            for device in devices {
                let shape = [device.multiprocessorCount.map { "\($0) SMs" },
                             device.memoryTotalBytes.map { String(formatBytes($0).prefix { $0 != "(" }.trimmingSuffixSpace) }]
                    .compactMap { $0 }.joined(separator: " and ")
                if counts[shape] == nil { shapes.append(shape) }
                counts[shape, default: 0] += 1
            }
            var text = "enabled on \(name): \(devices.count) MIG device\(devices.count == 1 ? "" : "s")"
            if shapes.count == 1, !shapes[0].isEmpty {
                text += devices.count == 1 ? " of \(shapes[0])" : ", each \(shapes[0])"
            } else if shapes.count > 1 {
                text += " (" + shapes.map { "\(counts[$0]!) × \($0.isEmpty ? "unknown size" : $0)" }.joined(separator: ", ") + ")"
            }
            if let pending = gpu.migMode?.pending, pending != mode { text += ", \(pending.lowercased()) after reset" }
            parts.append(text)
        }
        guard reported else { return nil }
        return parts.isEmpty ? "disabled" : parts.joined(separator: "; ")
    }

    static func rows(_ amd: AMDSection) -> [Row] {
        var counts: [String: Int] = [:]
        var order: [String] = []
        for card in amd.cards {
            let name = card.series ?? card.model ?? card.deviceName ?? "AMD GPU"
            if counts[name] == nil { order.append(name) }
            counts[name, default: 0] += 1
        }
        var rows = [Row(label: "AMD GPUs", value: amd.cards.isEmpty ? "\(amd.cardCount)"
            : order.map { "\(counts[$0]!) × \($0)" }.joined(separator: "; "))]
        if let driver = amd.driverVersion { rows.append(Row(label: "AMD driver", value: driver)) }
        return rows
    }

    static func rows(_ cuda: CUDASection) -> [Row] {
        var rows: [Row] = []
        if let toolkit = cuda.toolkit { rows.append(Row(label: "CUDA toolkit", value: toolkit.version)) }
        if let rocm = cuda.rocm { rows.append(Row(label: "ROCm", value: rocm.version)) }
        var seen: Set<String> = []
        for library in cuda.runtimeLibraries ?? [] where library.shadowed != true {
            guard let version = library.version, seen.insert(library.library).inserted else { continue }
            rows.append(Row(label: library.library, value: version))
        }
        for header in cuda.libraryHeaders ?? [] where seen.insert(header.library).inserted {
            rows.append(Row(label: header.library, value: header.version))
        }
        return rows
    }

    /// Path, commit, branch, working-tree state and the patch of one repository.
    static func rows(_ repository: GitSection.Repository) -> [Row] {
        var rows = [Row(label: "Repository", value: repository.path)]
        if let remote = repository.remotes["origin"] ?? repository.remotes.keys.sorted().first.map({ repository.remotes[$0]! }) {
            rows.append(Row(label: "Remote", value: remote))
        }
        rows.append(Row(label: "Commit", value: repository.commit ?? "(no commit yet)"))
        if let branch = repository.branch { rows.append(Row(label: "Branch", value: branch)) }
        if repository.detached { rows.append(Row(label: "Branch", value: "(detached HEAD)")) }
        if let describe = repository.describe { rows.append(Row(label: "Describe", value: describe)) }
        if let status = repository.status {
            let counts = [("staged", status.staged.count), ("unstaged", status.unstaged.count),
                          ("untracked", status.untracked.count), ("conflicted", status.conflicted.count)]
                .filter { $0.1 > 0 }.map { "\($0.1) \($0.0)" }
            rows.append(Row(label: "Working tree", value: counts.isEmpty ? "clean"
                : "dirty (uncommitted changes: \(counts.joined(separator: ", ")))"))
        }
        // An empty patch (a clean tree: 0 bytes, the SHA-256 of nothing) is no patch: no row.
        if let diff = repository.diff, !(diff.sizeBytes == 0 || diff.sha256 == emptySHA256) {
            if let sha256 = diff.sha256 {
                rows.append(Row(label: "Patch", value: sha256 + (diff.sizeBytes.map { ", \($0) bytes" } ?? "")))
            } else if let reason = diff.omittedReason {
                rows.append(Row(label: "Patch", value: "not kept: \(reason)"))
            }
        }
        return rows
    }

    /// The digest of zero bytes, as the git probe writes the patch of a clean tree.
    static let emptySHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// "sha256:…, 12 files, 1.2 MiB (1234567 bytes), /data/x".
    static func text(_ dataset: DatasetsSection.Dataset) -> String {
        "\(dataset.digest), \(dataset.fileCount) file\(dataset.fileCount == 1 ? "" : "s"), "
            + "\(formatBytes(dataset.totalBytes)), \(dataset.path)"
    }

    static func scalarText(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return s
        case .array, .object: return CanonicalJSON.string(value)
        }
    }

    /// Every leaf as `a.b[2].c = value`; arrays of scalars joined with `, ` on one row.
    static func flatten(_ value: JSONValue, path: String, into rows: inout [Row]) {
        switch value {
        case .object(let object):
            if object.isEmpty { rows.append(Row(label: path.isEmpty ? "(data)" : path, value: "{}")); return }
            for key in CanonicalJSON.sortedKeys(object) {
                flatten(object[key]!, path: path.isEmpty ? key : "\(path).\(key)", into: &rows)
            }
        case .array(let items):
            if items.allSatisfy({ $0.objectValue == nil && $0.arrayValue == nil }) {
                rows.append(Row(label: path, value: items.map(scalarText).joined(separator: ", ")))
            } else {
                for (index, item) in items.enumerated() { flatten(item, path: "\(path)[\(index)]", into: &rows) }
            }
        default:
            rows.append(Row(label: path, value: scalarText(value)))
        }
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}

extension Substring {
    var trimmingSuffixSpace: Substring {
        var text = self
        while text.last == " " { text = text.dropLast() }
        return text
    }
}

/// PEP 503 normalisation of a Python distribution name: lower case, runs of `-`, `_`, `.` as one
/// `-` (the python probe's duplicates and the summary's lookups both use it).
public func normalizeDistributionName(_ name: String) -> String {
    // Bytes for an ASCII name (every name on the package index is): the same result without
    // lowercasing and appending characters, which was a tenth of the python probe's time.
    if name.utf8.allSatisfy({ $0 < 0x80 }) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(name.utf8.count)
        var lastWasSeparator = false
        for byte in name.utf8 {
            if byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") {
                if !lastWasSeparator { bytes.append(UInt8(ascii: "-")) }
                lastWasSeparator = true
            } else {
                bytes.append(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte)
                lastWasSeparator = false
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
    var result = ""
    var lastWasSeparator = false
    for character in name.lowercased() {
        if character == "-" || character == "_" || character == "." {
            if !lastWasSeparator { result.append("-") }
            lastWasSeparator = true
        } else {
            result.append(character)
            lastWasSeparator = false
        }
    }
    return result
}
