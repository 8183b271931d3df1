import ProvenanceCore
import ProvenanceProbeKit

/// The processors: model, vendor, logical CPUs, flags, microcode, topology, caches and NUMA nodes.
///
/// Reads `/proc/cpuinfo`, `/sys/devices/system/cpu/{online,possible,present}`,
/// `/sys/devices/system/cpu/cpu*/topology/*`, `/sys/devices/system/cpu/cpu*/cache/index*/*` and
/// `/sys/devices/system/node/node*/cpulist`. Frequencies and BogoMIPS are left out: they change
/// from one capture to the next.
public struct CPUProbe: Probe {
    public init() {}

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "cpu", version: "1.0.0",
            summary: "CPU model, vendor, logical CPUs, flags, microcode, sockets/cores/threads, caches, NUMA nodes",
            reads: ["/proc/cpuinfo", "/sys/devices/system/cpu/{online,possible,present}",
                    "/sys/devices/system/cpu/cpu*/topology/*", "/sys/devices/system/cpu/cpu*/cache/index*/*",
                    "/sys/devices/system/node/node*/cpulist"])
    }

    public typealias Output = CPUSection
    public typealias CoreType = CPUSection.CoreType
    public typealias Topology = CPUSection.Topology
    public typealias Cache = CPUSection.Cache
    public typealias NUMANode = CPUSection.NUMANode

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let fs = context.fs
        var output = Output(logicalCPUs: 0, flags: [], identification: [:])
        var cpuinfoFile: CPUInfoFile?
        do {
            if let text = try fs.read("/proc/cpuinfo") {
                cpuinfoFile = parseCPUInfo(text)
            } else {
                report.issue("/proc/cpuinfo", "does not exist")
            }
        } catch {
            report.issue("/proc/cpuinfo", error.message)
        }

        if let file = cpuinfoFile {
            describe(file, into: &output)
            for line in file.malformedLines.prefix(5) { report.issue("/proc/cpuinfo", "malformed \(line)") }
        }
        output.topology = readTopology(fs, cpuinfo: cpuinfoFile, report: report)
        output.caches = readCaches(fs)
        output.numaNodes = readNUMANodes(fs)
        if cpuinfoFile == nil && output.topology == nil {
            throw ProbeFailure("neither /proc/cpuinfo nor /sys/devices/system/cpu could be read")
        }
        return output
    }

    func describe(_ file: CPUInfoFile, into output: inout Output) {
        let family = cpuArchitectureFamily(file)
        output.architectureFamily = family
        output.logicalCPUs = cpuLogicalCount(file)
        let first = file.processors.first ?? []
        func any(_ key: String) -> String? { first.value(key) ?? file.machineValue(key) }

        output.vendor = any("vendor_id") ?? any("vendor")
        output.modelName = first.isEmpty ? nil : cpuModelName(first)
        if output.modelName == nil, family == "loongarch" || family == "mips" || family == "sparc" { output.modelName = cpuModelName(file.machine) }

        // Flags every processor has; s390 and machine-wide feature lines count for all.
        let flagKeys = ["flags", "Features", "features", "ASEs implemented"]
        func flags(of entry: [(key: String, value: String)]) -> Set<String>? {
            var found: Set<String>?
            for key in flagKeys {
                guard let value = entry.value(key) else { continue }
                let separators: Set<Character> = family == "ia64" ? [","] : [" ", "\t"]
                let words = value.split(whereSeparator: { separators.contains($0) }).map { $0.trimmed }.filter { !$0.isEmpty }
                found = (found ?? []).union(words)
            }
            return found
        }
        var common: Set<String>?
        for entry in file.processors {
            if let entryFlags = flags(of: entry) { common = common.map { $0.intersection(entryFlags) } ?? entryFlags }
        }
        if common == nil { common = flags(of: file.machine) }
        output.flags = (common ?? []).sorted()

        let microcode = Set(file.processors.compactMap { $0.value("microcode") })
        output.microcode = microcode.isEmpty ? nil : microcode.sorted()

        var identification: [String: String] = [:]
        let identificationKeys: [String: String] = [
            "cpu family": "family", "model": "model", "stepping": "stepping",  // x86, IA-64 (`family`)
            "family": "family", "arch": "arch", "archrev": "archRevision",
            "CPU implementer": "implementer", "CPU architecture": "architecture", "CPU variant": "variant",
            "CPU part": "part", "CPU revision": "revision",  // ARM
            "revision": "revision",  // POWER, IA-64
            "isa": "isa", "mmu": "mmu", "uarch": "uarch", "mvendorid": "mvendorid", "marchid": "marchid",
            "mimpid": "mimpid",  // RISC-V
            "CPU Family": "family", "CPU Revision": "revision", "FPU Revision": "fpuRevision",  // LoongArch
        ]
        for (key, value) in first where identificationKeys[key] != nil && identification[identificationKeys[key]!] == nil {
            // POWER's `model` is machine-wide; x86's is per processor. Keep per-processor values only.
            identification[identificationKeys[key]!] = value
        }
        if family == "s390" {
            // "processor 0: version = FF,  identification = 2733E8,  machine = 2964"
            if let line = file.machine.first(where: { $0.key.hasPrefix("processor ") })?.value {
                for part in line.split(separator: ",") {
                    let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmed }
                    if pair.count == 2, pair[0] != "identification" { identification[pair[0]] = pair[1] }
                }
            }
        }
        if family == "arm64" || family == "arm" {
            let implementer = first.value("CPU implementer")
            if let name = implementer.flatMap({ armImplementers[$0.lowercased()] }) {
                identification["implementerName"] = name
                if output.vendor == nil { output.vendor = name }
            }
            if let partName = cpuPartName(implementer: implementer, part: first.value("CPU part")) {
                identification["partName"] = partName
            }
        }
        output.identification = identification

        // Machine-wide fields worth keeping; serial numbers are identity, not environment.
        let platformKeys = ["Hardware", "Revision", "platform", "model", "machine", "firmware", "MMU", "timebase",
                            "system type", "max thread id"]
        var platform: [String: String] = [:]
        for (key, value) in file.machine where platformKeys.contains(key) && platform[key] == nil {
            platform[key] = value
        }
        output.platform = platform.isEmpty ? nil : platform

        // Kinds of core: processors grouped by model name and part.
        var groups: [String: (modelName: String?, part: String?, cpus: [Int])] = [:]
        for (position, entry) in file.processors.enumerated() {
            let modelName = cpuModelName(entry)
            let part = entry.value("CPU part")
            let number = entry.value("processor").flatMap { Int($0) } ?? position
            groups["\(modelName ?? "")|\(part ?? "")", default: (modelName, part, [])].cpus.append(number)
        }
        if groups.count > 1 {
            output.coreTypes = groups.values.sorted { ($0.cpus.min() ?? 0) < ($1.cpus.min() ?? 0) }.map {
                CoreType(modelName: $0.modelName, part: $0.part,
                         partName: cpuPartName(implementer: first.value("CPU implementer"), part: $0.part),
                         cpus: formatCPUList($0.cpus), count: $0.cpus.count)
            }
        }
    }

    /// Sockets, dies, cores and threads from sysfs; from cpuinfo's `physical id` / `core id` when
    /// sysfs has no topology.
    func readTopology(_ fs: RootedFileSystem, cpuinfo: CPUInfoFile?, report: ProbeReport) -> Topology? {
        let base = "/sys/devices/system/cpu"
        var topology = Topology(
            online: fs.attribute("\(base)/online"), possible: fs.attribute("\(base)/possible"),
            present: fs.attribute("\(base)/present"), source: "sysfs")
        var packages = Set<String>()
        var dies = Set<String>()
        var cores = Set<String>()
        var threads = 0
        var covered = 0
        let cpuDirectories = ((try? fs.list(base)) ?? []).filter { $0.hasPrefix("cpu") && Int($0.dropFirst(3)) != nil }
        for directory in cpuDirectories {
            let path = "\(base)/\(directory)/topology"
            guard let package = fs.attribute("\(path)/physical_package_id") else { continue }
            let core = fs.attribute("\(path)/core_id") ?? directory
            let die = fs.attribute("\(path)/die_id") ?? "0"
            let cluster = fs.attribute("\(path)/cluster_id") ?? "-"
            covered += 1
            packages.insert(package)
            dies.insert("\(package)/\(die)")
            let siblings = (fs.attribute("\(path)/thread_siblings_list") ?? fs.attribute("\(path)/core_cpus_list"))
                .flatMap(parseCPUList)
            // A core is the set of CPUs sharing it, as lscpu counts them (lscpu-topology.c); core
            // ids alone repeat per cluster on ARM (core_id 0-3 in every cluster of 4).
            if let siblings, !siblings.isEmpty {
                cores.insert("siblings \(formatCPUList(siblings))")
            } else {
                cores.insert("\(package)/\(die)/\(cluster)/\(core)")
            }
            threads = max(threads, siblings?.count ?? 1)
        }
        let listed = cpuinfo.map(cpuLogicalCount) ?? 0
        let cpuinfoHasTopology = cpuinfo?.processors.contains(where: { $0.value("physical id") != nil }) ?? false
        if !packages.isEmpty && (covered >= listed || !cpuinfoHasTopology) {
            if covered < listed {
                report.issue("/sys/devices/system/cpu",
                             "topology covers \(covered) of the \(listed) CPUs in /proc/cpuinfo; counts are of those")
            }
            topology.sockets = packages.count
            topology.dies = dies.count
            topology.cores = cores.count
            topology.threadsPerCore = threads
            return topology
        }
        // No (complete) sysfs topology: x86 and IA-64 cpuinfo carry physical id / core id.
        if let cpuinfo, cpuinfoHasTopology {
            var packageIDs = Set<String>()
            var coreIDs = Set<String>()
            var perCore: [String: Int] = [:]
            for entry in cpuinfo.processors {
                let package = entry.value("physical id") ?? "0"
                let core = "\(package)/\(entry.value("core id") ?? entry.value("processor") ?? "")"
                packageIDs.insert(package)
                coreIDs.insert(core)
                perCore[core, default: 0] += 1
            }
            topology.sockets = packageIDs.count
            topology.cores = coreIDs.count
            topology.threadsPerCore = perCore.values.max()
            topology.source = "cpuinfo"
            return topology
        }
        // s390 states its threads per core machine-wide (`max thread id: 1` = SMT-2), as lscpu reads it.
        if let threadID = cpuinfo?.machineValue("max thread id").flatMap({ Int($0) }), threadID >= 0 {
            topology.threadsPerCore = threadID + 1
            topology.source = "cpuinfo"
            return topology
        }
        if topology.online != nil || topology.possible != nil || topology.present != nil { return topology }
        return nil
    }

    /// Distinct caches of all CPUs from sysfs, grouped by level, type and size.
    /// The CPUs' caches; `sharedOnce` false reads every attribute under every CPU (the reference
    /// the tests hold the skip to).
    func readCaches(_ fs: RootedFileSystem, sharedOnce: Bool = true) -> [Cache]? {
        let base = "/sys/devices/system/cpu"
        struct Key: Hashable { var level: Int; var type: String; var size: Int64?; var line: Int?; var ways: Int? }
        var instances: [Key: Set<String>] = [:]
        var sharing: [Key: Int] = [:]
        // A cache shared by several CPUs appears under each of them with the same index, level,
        // type and CPU list: its size, line size and ways are read once, from the first (six files
        // per CPU and cache would be 6,144 files on a node of 256 hardware threads with four
        // caches each; this reads about half).
        var seen: Set<String> = []
        let cpuDirectories = ((try? fs.list(base)) ?? []).filter { $0.hasPrefix("cpu") && Int($0.dropFirst(3)) != nil }
        for directory in cpuDirectories {
            let cacheBase = "\(base)/\(directory)/cache"
            for index in ((try? fs.list(cacheBase)) ?? []) where index.hasPrefix("index") {
                let path = "\(cacheBase)/\(index)"
                guard let level = fs.attribute("\(path)/level").flatMap({ Int($0) }),
                      let type = fs.attribute("\(path)/type") else { continue }
                let sharedList = fs.attribute("\(path)/shared_cpu_list")
                if sharedOnce, let sharedList, !seen.insert("\(index) \(level) \(type) \(sharedList)").inserted { continue }
                let key = Key(level: level, type: type, size: fs.attribute("\(path)/size").flatMap(parseSizeWithUnit),
                              line: fs.attribute("\(path)/coherency_line_size").flatMap { Int($0) },
                              ways: fs.attribute("\(path)/ways_of_associativity").flatMap { Int($0) })
                let shared = sharedList ?? directory
                instances[key, default: []].insert(shared)
                sharing[key] = max(sharing[key] ?? 1, parseCPUList(shared)?.count ?? 1)
            }
        }
        guard !instances.isEmpty else { return nil }
        return instances.map { key, shared in
            Cache(level: key.level, type: key.type, sizeBytes: key.size, lineSizeBytes: key.line, ways: key.ways,
                  instances: shared.count, cpusPerInstance: sharing[key] ?? 1)
        }.sorted { ($0.level, $0.type, $0.sizeBytes ?? 0) < ($1.level, $1.type, $1.sizeBytes ?? 0) }
    }

    func readNUMANodes(_ fs: RootedFileSystem) -> [NUMANode]? {
        let base = "/sys/devices/system/node"
        guard let entries = try? fs.list(base) else { return nil }
        let nodes = entries.compactMap { name -> NUMANode? in
            guard name.hasPrefix("node"), let id = Int(name.dropFirst(4)) else { return nil }
            return NUMANode(id: id, cpus: fs.attribute("\(base)/\(name)/cpulist") ?? "")
        }.sorted { $0.id < $1.id }
        return nodes.isEmpty ? nil : nodes
    }
}

/// A probe that could not produce its section; the message says why.
public struct ProbeFailure: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
