// The tuning section: kernel and firmware settings that change how fast (and sometimes how
// reproducibly) the same code runs. Pure data; filled by `CPUTuningProbe`.

/// CPU frequency scaling, SMT, speculative-execution mitigations and memory-management knobs.
public struct CPUTuningSection: Codable, Equatable, Sendable {
    /// cpufreq policies grouped by identical settings, sorted by their first CPU.
    public var frequencyScaling: [CPUFrequencySetting]?
    /// Whether frequency boost (turbo) is allowed: `/sys/devices/system/cpu/cpufreq/boost` (1),
    /// else the inverse of intel_pstate's `no_turbo`.
    public var boost: Bool?
    /// intel_pstate's mode and limits, when that driver is loaded.
    public var intelPState: IntelPState?
    /// `/sys/devices/system/cpu/smt/control`: `on`, `off`, `forceoff`, `notsupported`, `notimplemented`.
    public var smtControl: String?
    /// `/sys/devices/system/cpu/smt/active`: whether sibling threads are online.
    public var smtActive: Bool?
    /// `/sys/devices/system/cpu/vulnerabilities/*`: name → the kernel's state line
    /// (`Mitigation: PTI`, `Vulnerable`, `Not affected`).
    public var vulnerabilities: [String: String]?
    /// `/proc/sys/kernel/numa_balancing` (0 off, 1 normal, 2 memory tiering).
    public var numaBalancing: Int?
    /// `/proc/sys/kernel/randomize_va_space` (0 off, 1 partial, 2 full ASLR).
    public var randomizeVASpace: Int?
    /// The selected value of `/sys/kernel/mm/transparent_hugepage/enabled` (`always`, `madvise`, `never`).
    public var transparentHugePages: String?
    /// The selected value of `/sys/kernel/mm/transparent_hugepage/defrag`.
    public var transparentHugePagesDefrag: String?
    /// `/sys/devices/system/cpu/isolated` (a kernel CPU list; nil when empty).
    public var isolatedCPUs: String?

    public init() {}
}

/// The cpufreq settings shared by a set of CPUs.
public struct CPUFrequencySetting: Codable, Equatable, Sendable {
    /// The CPUs (a kernel CPU list: `0-23,48`).
    public var cpus: String
    /// `scaling_driver` (`intel_pstate`, `intel_cpufreq`, `acpi-cpufreq`, `amd-pstate-epp`, `cppc_cpufreq`).
    public var driver: String?
    /// `scaling_governor` (`performance`, `powersave`, `ondemand`, `schedutil`).
    public var governor: String?
    /// `scaling_min_freq` / `scaling_max_freq`: the limits set (not the current frequency).
    public var minimumKHz: Int64?
    public var maximumKHz: Int64?
    /// `cpuinfo_max_freq`: the hardware's maximum.
    public var hardwareMaximumKHz: Int64?
    /// `energy_performance_preference` (HWP / amd-pstate EPP).
    public var energyPerformancePreference: String?

    public init(cpus: String) { self.cpus = cpus }
}

/// `/sys/devices/system/cpu/intel_pstate/*`.
public struct IntelPState: Codable, Equatable, Sendable {
    /// `active`, `passive` or `off`.
    public var status: String?
    public var noTurbo: Bool?
    public var minPerfPercent: Int?
    public var maxPerfPercent: Int?

    public init() {}
}
