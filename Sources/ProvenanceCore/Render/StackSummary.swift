/// The summary rows of the ML/HPC stack sections: framework CUDA (cuda.frameworks), CPU tuning
/// (tuning), modules and Spack (software.stack), MPI and RDMA (mpi, rdma).
extension EnvironmentSummary {
    /// Generic accelerator rows left out because `stackGroups` renders these facts.
    static let stackRowLabels: Set<String> = ["cuda frameworks", "cuda pythonWheels", "cuda conflicts"]

    static func stackGroups(_ data: (String) -> JSONValue?) -> [Group] {
        var groups: [Group] = []

        // What changes results: the CUDA each framework was built with and loads.
        var frameworks: [Row] = []
        for framework in data("cuda")?["frameworks"]?.arrayValue ?? [] {
            guard let name = framework["name"]?.stringValue else { continue }
            var parts: [String] = []
            if let version = framework["version"]?.stringValue { parts.append(version) }
            if let cuda = framework["cudaVersion"]?.stringValue { parts.append("built with CUDA \(cuda)") }
            if let cudnn = framework["cudnnVersion"]?.stringValue { parts.append("cuDNN \(cudnn)") }
            let loads = (framework["libraries"]?.arrayValue ?? []).compactMap { library -> String? in
                guard let family = library["name"]?.stringValue, ["cudart", "cudnn", "nccl", "cublas"].contains(family)
                else { return nil }
                let source = library["distribution"]?.stringValue ?? library["source"]?.stringValue ?? "?"
                return "\(family) \(library["version"]?.stringValue ?? "?") (\(source))"
            }
            if !loads.isEmpty { parts.append("loads " + loads.joined(separator: ", ")) }
            frameworks.append(Row(label: name, value: parts.joined(separator: "; ")))
        }
        for conflict in data("cuda")?["conflicts"]?.arrayValue ?? [] {
            if let message = conflict["message"]?.stringValue {
                frameworks.append(Row(label: "CUDA conflict", value: message))
            }
        }
        // Across sections: a framework built with a newer CUDA than the driver supports.
        if let recorded = data("cuda")?["frameworks"],
           let models = try? JSONValueDecoder().decode([MLFramework].self, from: recorded) {
            let driver = data("gpu.nvidia")?["cudaDriverVersion"]?.stringValue
            for conflict in CUDAConflict.frameworkCUDANewerThanDriver(models, driverCUDA: driver) {
                frameworks.append(Row(label: "CUDA conflict", value: conflict.message))
            }
        }
        if !frameworks.isEmpty { groups.append(Group(title: "ML frameworks", rows: frameworks)) }

        // What changes speed: frequency scaling, boost, SMT, THP.
        var tuning: [Row] = []
        if let section = data("tuning") {
            let settings = section["frequencyScaling"]?.arrayValue ?? []
            let governors = settings.compactMap { setting -> String? in
                guard let governor = setting["governor"]?.stringValue else { return nil }
                let driver = setting["driver"]?.stringValue.map { " (\($0))" } ?? ""
                return settings.count == 1 ? governor + driver : "\(governor)\(driver) on CPUs \(setting["cpus"]?.stringValue ?? "?")"
            }
            if !governors.isEmpty { tuning.append(Row(label: "CPU governor", value: governors.joined(separator: ", "))) }
            if case .bool(let boost)? = section["boost"] { tuning.append(Row(label: "Boost", value: boost ? "on" : "off")) }
            if let smt = section["smtControl"]?.stringValue { tuning.append(Row(label: "SMT", value: Self.describeSMTControl(smt))) }
            if let thp = section["transparentHugePages"]?.stringValue {
                tuning.append(Row(label: "Transparent huge pages", value: Self.describeTransparentHugePages(thp)))
            }
            if let numa = section["numaBalancing"]?.intValue { tuning.append(Row(label: "NUMA balancing", value: Self.describeNUMABalancing(numa))) }
        }
        if !tuning.isEmpty { groups.append(Group(title: "CPU tuning", rows: tuning)) }

        // How HPC software reached the job.
        var hpc: [Row] = []
        if let stack = data("software.stack") {
            let loaded = (stack["modules"]?["loaded"]?.arrayValue ?? []).compactMap { $0["fullName"]?.stringValue }
            if !loaded.isEmpty { hpc.append(Row(label: "Modules", value: loaded.joined(separator: " "))) }
            if let spack = stack["spack"] {
                let roots = spack["roots"]?.arrayValue.map { "\($0.count) roots" }
                let lock = spack["lockSHA256"]?.stringValue.map { "spack.lock sha256:\($0)" }
                hpc.append(Row(label: "Spack environment", value: ([spack["path"]?.stringValue] + [roots, lock])
                    .compactMap { $0 }.joined(separator: ", ")))
            }
            if let conda = stack["conda"], let name = conda["name"]?.stringValue ?? conda["prefix"]?.stringValue {
                hpc.append(Row(label: "Conda environment", value: name))
            }
        }
        if let mpi = data("mpi") {
            for implementation in mpi["implementations"]?.arrayValue ?? [] {
                guard let name = implementation["name"]?.stringValue, let version = implementation["version"]?.stringValue else { continue }
                hpc.append(Row(label: name, value: version))
            }
            if let ucx = mpi["ucx"]?["version"]?.stringValue { hpc.append(Row(label: "UCX", value: ucx)) }
            if let fabric = mpi["libfabric"]?["version"]?.stringValue { hpc.append(Row(label: "libfabric", value: fabric)) }
        }
        var adapters: [String: Int] = [:]
        for adapter in data("rdma")?["adapters"]?.arrayValue ?? [] {
            let port = adapter["ports"]?.arrayValue?.first
            let text = [adapter["hcaType"]?.stringValue, adapter["firmware"]?.stringValue.map { "fw " + $0 },
                        port?["rate"]?.stringValue, port?["linkLayer"]?.stringValue].compactMap { $0 }.joined(separator: ", ")
            adapters[text, default: 0] += 1
        }
        for (text, count) in adapters.sorted(by: { $0.key < $1.key }) {
            hpc.append(Row(label: "RDMA adapters", value: count == 1 ? text : "\(count) × \(text)"))
        }
        if !hpc.isEmpty { groups.append(Group(title: "HPC stack", rows: hpc)) }

        // How GPUs, NICs and CPUs are connected (the opt-in gpu.topology section).
        if let recorded = data("gpu.topology"),
           let topology = try? JSONValueDecoder().decode(GPUTopologySection.self, from: recorded) {
            var rows = [Row(label: "Devices", value: topology.summary)]
            let gpuLinks = topology.links.filter { $0.from.hasPrefix("GPU") && $0.to.hasPrefix("GPU") }
            var kinds: [String: Int] = [:]
            for link in gpuLinks { kinds[link.connection, default: 0] += 1 }
            if !kinds.isEmpty {
                rows.append(Row(label: "GPU–GPU links", value: kinds.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
                    .map { "\($0.key) × \($0.value)" }.joined(separator: ", ")))
            }
            // GPUs grouped by the CPUs and NUMA node they are near, in matrix order.
            var affinities: [(key: String, gpus: [String])] = []
            for device in topology.devices where device.kind == "gpu" {
                let key = [device.numaAffinity.map { "NUMA \($0)" }, device.cpuAffinity.map { "CPUs \($0)" }]
                    .compactMap { $0 }.joined(separator: ", ")
                guard !key.isEmpty else { continue }
                if let index = affinities.firstIndex(where: { $0.key == key }) { affinities[index].gpus.append(device.name) }
                else { affinities.append((key, [device.name])) }
            }
            if !affinities.isEmpty {
                rows.append(Row(label: "GPU affinity", value: affinities.map { "\($0.gpus.joined(separator: " ")): \($0.key)" }
                    .joined(separator: "; ")))
            }
            groups.append(Group(title: "GPU topology", rows: rows))
        }
        return groups
    }

    /// `/sys/devices/system/cpu/smt/control` in words (the kernel's values: on, off, forceoff,
    /// notsupported, notimplemented), with the value itself for readers who search for it.
    static func describeSMTControl(_ value: String) -> String {
        let words = switch value {
        case "on": "on (several threads per core)"
        case "off": "off (disabled at run time)"
        case "forceoff": "off (disabled on the kernel command line)"
        case "notsupported": "not supported by the CPU"
        case "notimplemented": "not controllable by this kernel"
        default: value
        }
        return words == value ? value : "\(words); smt/control = \(value)"
    }

    /// `/sys/kernel/mm/transparent_hugepage/enabled` in words (always, madvise, never).
    static func describeTransparentHugePages(_ value: String) -> String {
        switch value {
        case "always": "always"
        case "madvise": "only where a program asks (madvise)"
        case "never": "never"
        default: value
        }
    }

    /// `/proc/sys/kernel/numa_balancing` in words (0 off, 1 normal, 2 memory tiering, 3 both).
    static func describeNUMABalancing(_ value: Int64) -> String {
        switch value {
        case 0: "off (0)"
        case 1: "on (1)"
        case 2: "memory tiering only (2)"
        case 3: "on, with memory tiering (3)"
        default: String(value)
        }
    }
}
