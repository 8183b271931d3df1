import ProvenanceCore
import ProvenanceProbeKit

/// CPU and OS tuning that changes how fast the same code runs: cpufreq driver, governor and
/// limits, boost/turbo, SMT control, speculative-execution mitigations, NUMA balancing, ASLR and
/// transparent huge pages. Current frequencies are left out (they change from one read to the next).
///
/// Reads `/sys/devices/system/cpu/cpufreq/policy*/{affected_cpus,scaling_driver,scaling_governor,
/// scaling_min_freq,scaling_max_freq,cpuinfo_max_freq,energy_performance_preference}` (older
/// kernels: `/sys/devices/system/cpu/cpu*/cpufreq/`), `/sys/devices/system/cpu/cpufreq/boost`,
/// `/sys/devices/system/cpu/intel_pstate/{status,no_turbo,min_perf_pct,max_perf_pct}`,
/// `/sys/devices/system/cpu/smt/{control,active}`, `/sys/devices/system/cpu/vulnerabilities/*`,
/// `/sys/devices/system/cpu/isolated`, `/proc/sys/kernel/{numa_balancing,randomize_va_space}`,
/// `/sys/kernel/mm/transparent_hugepage/{enabled,defrag}`. `absent` when none of them exists.
public struct CPUTuningProbe: Probe {
    public typealias Output = CPUTuningSection

    public init() {}

    static let cpu = "/sys/devices/system/cpu"

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "tuning", version: "1.0.0",
            summary: "cpufreq driver/governor/limits, boost, SMT control, CPU vulnerabilities, NUMA balancing, ASLR, THP",
            reads: ["/sys/devices/system/cpu/cpufreq/policy*/*", "/sys/devices/system/cpu/cpu*/cpufreq/*",
                    "/sys/devices/system/cpu/cpufreq/boost", "/sys/devices/system/cpu/intel_pstate/*",
                    "/sys/devices/system/cpu/smt/{control,active}", "/sys/devices/system/cpu/vulnerabilities/*",
                    "/sys/devices/system/cpu/isolated", "/proc/sys/kernel/{numa_balancing,randomize_va_space}",
                    "/sys/kernel/mm/transparent_hugepage/{enabled,defrag}"])
    }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let fs = context.fs
        var output = Output()
        output.frequencyScaling = readFrequencyScaling(fs)

        if let boost = fs.attribute(Self.cpu + "/cpufreq/boost").flatMap(Int.init) { output.boost = boost != 0 }
        if fs.isDirectory(Self.cpu + "/intel_pstate") {
            var pstate = IntelPState()
            pstate.status = fs.attribute(Self.cpu + "/intel_pstate/status")
            pstate.noTurbo = fs.attribute(Self.cpu + "/intel_pstate/no_turbo").flatMap(Int.init).map { $0 != 0 }
            pstate.minPerfPercent = fs.attribute(Self.cpu + "/intel_pstate/min_perf_pct").flatMap { Int($0) }
            pstate.maxPerfPercent = fs.attribute(Self.cpu + "/intel_pstate/max_perf_pct").flatMap { Int($0) }
            if pstate != IntelPState() { output.intelPState = pstate }
            if output.boost == nil, let noTurbo = pstate.noTurbo { output.boost = !noTurbo }
        }
        output.smtControl = fs.attribute(Self.cpu + "/smt/control")
        output.smtActive = fs.attribute(Self.cpu + "/smt/active").flatMap(Int.init).map { $0 != 0 }

        var vulnerabilities: [String: String] = [:]
        for name in (try? fs.list(Self.cpu + "/vulnerabilities")) ?? [] {
            if let state = fs.attribute("\(Self.cpu)/vulnerabilities/\(name)") { vulnerabilities[name] = state }
        }
        output.vulnerabilities = vulnerabilities.isEmpty ? nil : vulnerabilities
        output.numaBalancing = fs.attribute("/proc/sys/kernel/numa_balancing").flatMap { Int($0) }
        output.randomizeVASpace = fs.attribute("/proc/sys/kernel/randomize_va_space").flatMap { Int($0) }
        output.transparentHugePages = fs.attribute("/sys/kernel/mm/transparent_hugepage/enabled").flatMap(parseSysfsSelection)
        output.transparentHugePagesDefrag = fs.attribute("/sys/kernel/mm/transparent_hugepage/defrag").flatMap(parseSysfsSelection)
        // As a canonical kernel list (`1,2-7,9` → `1-7,9`), so equal sets compare equal.
        output.isolatedCPUs = nonEmpty(fs.attribute(Self.cpu + "/isolated")).map { list in
            parseCPUList(list).map(formatCPUList) ?? list
        }

        if output == Output() {
            throw ProbeAbsent(source: Self.cpu, reason: "no cpufreq, SMT, vulnerabilities, NUMA balancing, ASLR or THP settings")
        }
        return output
    }

    /// cpufreq policies (or per-CPU cpufreq directories on older kernels), grouped by settings.
    func readFrequencyScaling(_ fs: RootedFileSystem) -> [CPUFrequencySetting]? {
        var directories: [(cpus: [Int], path: String)] = []
        for name in (try? fs.list(Self.cpu + "/cpufreq")) ?? [] where name.hasPrefix("policy") {
            let path = "\(Self.cpu)/cpufreq/\(name)"
            let cpus = (fs.attribute(path + "/affected_cpus") ?? fs.attribute(path + "/related_cpus"))
                .map { $0.split(separator: " ").compactMap { Int($0) } } ?? Int(name.dropFirst(6)).map { [$0] } ?? []
            directories.append((cpus, path))
        }
        if directories.isEmpty {
            for name in (try? fs.list(Self.cpu)) ?? [] where name.hasPrefix("cpu") {
                guard let number = Int(name.dropFirst(3)), fs.isDirectory("\(Self.cpu)/\(name)/cpufreq") else { continue }
                directories.append(([number], "\(Self.cpu)/\(name)/cpufreq"))
            }
        }
        var groups: [(setting: CPUFrequencySetting, cpus: [Int])] = []
        for (cpus, path) in directories {
            var setting = CPUFrequencySetting(cpus: "")
            setting.driver = fs.attribute(path + "/scaling_driver")
            setting.governor = fs.attribute(path + "/scaling_governor")
            setting.minimumKHz = fs.attribute(path + "/scaling_min_freq").flatMap { Int64($0) }
            setting.maximumKHz = fs.attribute(path + "/scaling_max_freq").flatMap { Int64($0) }
            setting.hardwareMaximumKHz = fs.attribute(path + "/cpuinfo_max_freq").flatMap { Int64($0) }
            setting.energyPerformancePreference = fs.attribute(path + "/energy_performance_preference")
            if let index = groups.firstIndex(where: { $0.setting == setting }) {
                groups[index].cpus += cpus
            } else {
                groups.append((setting, cpus))
            }
        }
        let settings = groups.map { group -> CPUFrequencySetting in
            var setting = group.setting
            setting.cpus = formatCPUList(Array(Set(group.cpus)).sorted())
            return setting
        }.sorted { (parseCPUList($0.cpus)?.first ?? 0) < (parseCPUList($1.cpus)?.first ?? 0) }
        return settings.isEmpty ? nil : settings
    }
}

/// The selected word of a sysfs choice file: `always [madvise] never` → `madvise`; a file
/// without brackets is returned as it is.
public func parseSysfsSelection(_ text: String) -> String? {
    if let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") {
        return String(text[text.index(after: open)..<close])
    }
    return nonEmpty(text)
}
