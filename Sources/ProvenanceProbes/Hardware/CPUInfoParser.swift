/// `/proc/cpuinfo` parsed into processor entries and machine-wide fields, for every architecture
/// the kernel formats differently (x86, ARM 32/64, POWER, s390, RISC-V, MIPS, LoongArch, IA-64).
public struct CPUInfoFile: Equatable, Sendable {
    /// One `processor : N` block (or the single block of an old ARM kernel), fields in file order.
    public var processors: [[(key: String, value: String)]] = []
    /// Fields outside processor blocks (`Hardware`, `timebase`, `platform`, s390's header).
    public var machine: [(key: String, value: String)] = []
    /// Lines that are not `key : value`, with their line numbers.
    public var malformedLines: [String] = []

    public static func == (a: CPUInfoFile, b: CPUInfoFile) -> Bool {
        a.processors.map { $0.map { "\($0.key)=\($0.value)" } } == b.processors.map { $0.map { "\($0.key)=\($0.value)" } }
            && a.machine.map { "\($0.key)=\($0.value)" } == b.machine.map { "\($0.key)=\($0.value)" }
            && a.malformedLines == b.malformedLines
    }

    public func machineValue(_ key: String) -> String? { machine.first { $0.key == key }?.value }
}

extension Array where Element == (key: String, value: String) {
    /// The first value of a key (keys are compared exactly: cpuinfo keys are case-sensitive).
    public func value(_ key: String) -> String? { first { $0.key == key }?.value }
}

/// Keys that open the machine-wide part of cpuinfo (POWER's `timebase`, ARM's `Hardware`).
let machineWideKeys: Set<String> = ["timebase", "Hardware"]

/// Parses the text of `/proc/cpuinfo`.
///
/// Blocks are separated by blank lines; a line is `key : value` split at the first colon, with
/// the key's padding trimmed (`physical id: 0` and `cpu\t\t: POWER9` both work). A block with a
/// `processor` key is one processor; s390's `processor N: version = ...` lines and the old ARM
/// format (`Processor : ARMv6...` with no `processor` key) are handled as their kernels mean them.
public func parseCPUInfo(_ text: String) -> CPUInfoFile {
    var file = CPUInfoFile()
    var block: [(key: String, value: String)] = []

    func flush() {
        defer { block = [] }
        guard !block.isEmpty else { return }
        if block.contains(where: { $0.key == "processor" }) {
            // Files without blank lines run the machine-wide trailer into the last processor.
            if let trailer = block.firstIndex(where: { machineWideKeys.contains($0.key) }) {
                file.machine.append(contentsOf: block[trailer...])
                block.removeSubrange(trailer...)
            }
            file.processors.append(block)
        } else {
            file.machine.append(contentsOf: block)
        }
    }

    for (number, rawLine) in text.lines.enumerated() {
        let line = rawLine.trimmingCharacters(in: "\r")
        if line.trimmed.isEmpty {
            flush()
            continue
        }
        guard let colon = line.firstIndex(of: ":") else {
            file.malformedLines.append("line \(number + 1): '\(line.prefix(80))'")
            continue
        }
        let key = line[..<colon].trimmingCharacters(in: " \t")
        let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
        // A new `processor` key inside a block starts a new processor (files without blank lines).
        if key == "processor", block.contains(where: { $0.key == "processor" }) { flush() }
        block.append((key, value))
    }
    flush()

    // Old ARM kernels: one block with `Processor : ARMv6-compatible ...` and no `processor` key.
    if file.processors.isEmpty, let index = file.machine.firstIndex(where: { $0.key == "Processor" }) {
        let end = file.machine[index...].firstIndex(where: { ["Hardware", "Revision", "Serial"].contains($0.key) })
            ?? file.machine.endIndex
        file.processors = [Array(file.machine[index..<end])]
        file.machine.removeSubrange(index..<end)
    }
    return file
}

/// The architecture family a cpuinfo file describes, from the fields only that family's kernel
/// writes: `x86`, `arm64`, `arm`, `powerpc`, `s390`, `riscv`, `mips`, `loongarch`, `ia64`, `sparc`.
public func cpuArchitectureFamily(_ file: CPUInfoFile) -> String? {
    let first = file.processors.first ?? []
    func has(_ key: String) -> Bool { first.value(key) != nil || file.machineValue(key) != nil }
    func value(_ key: String) -> String? { first.value(key) ?? file.machineValue(key) }
    if let vendor = value("vendor_id"), vendor.hasPrefix("IBM/S390") { return "s390" }
    if value("arch") == "IA-64" { return "ia64" }
    if has("CPU implementer") {
        let architecture = value("CPU architecture") ?? ""
        return architecture == "8" || architecture.lowercased().hasPrefix("aarch64") || architecture == "9"
            ? "arm64" : "arm"
    }
    if value("Processor")?.hasPrefix("ARM") == true || value("model name")?.hasPrefix("ARMv") == true { return "arm" }
    if (value("ISA") ?? value("isa") ?? "").contains("loongarch") || has("CPU Family") && has("Model Name") {
        return "loongarch"
    }
    if let isa = value("isa"), isa.hasPrefix("rv") { return "riscv" }
    if has("cpu model") || (value("isa") ?? "").contains("mips") { return "mips" }
    // SPARC kernels write one machine-wide block: `cpu : UltraSparc T1 (Niagara)`, `ncpus active`.
    if has("ncpus active") || value("cpu").map({ $0.lowercased().contains("sparc") }) == true { return "sparc" }
    if has("timebase") || value("cpu").map({ $0.contains("POWER") || $0.contains("PPC") || $0.contains("Cell") }) == true {
        return "powerpc"
    }
    // x86 kernels write vendor_id and flags; stripped files still have the x86-only APIC ids.
    if has("vendor_id") || has("apicid") || has("initial apicid") || has("cpuid level") { return "x86" }
    return nil
}

/// The number of logical CPUs a cpuinfo file lists (s390: its `# processors` line; SPARC, which
/// lists no processors: `ncpus active`).
public func cpuLogicalCount(_ file: CPUInfoFile) -> Int {
    if let count = file.machineValue("# processors").flatMap({ Int($0) }) { return count }
    if file.processors.isEmpty, let count = file.machineValue("ncpus active").flatMap({ Int($0) }) { return count }
    return file.processors.count
}

/// The CPU model name as the file states it, by family: `model name` (x86, IA-64, ARM32),
/// `Model Name` (LoongArch), `cpu model` (MIPS), `cpu` (POWER), `Processor` (old ARM),
/// `uarch` (RISC-V). ARM64 and s390 kernels state none (see `cpuPartName`).
public func cpuModelName(_ entry: [(key: String, value: String)]) -> String? {
    for key in ["model name", "Model Name", "cpu model", "cpu", "Processor", "uarch"] {
        if let value = entry.value(key), !value.isEmpty { return value }
    }
    return nil
}

/// ARM implementer codes (`CPU implementer`), as the Linux and util-linux tables name them.
let armImplementers: [String: String] = [
    "0x41": "ARM", "0x42": "Broadcom", "0x43": "Cavium", "0x46": "Fujitsu", "0x48": "HiSilicon",
    "0x4e": "NVIDIA", "0x50": "APM", "0x51": "Qualcomm", "0x53": "Samsung", "0x56": "Marvell",
    "0x61": "Apple", "0x69": "Intel", "0xc0": "Ampere",
]

/// ARM Ltd. part numbers (`CPU part` with implementer 0x41), from util-linux's lscpu table.
let armParts: [String: String] = [
    "0xb02": "ARM11 MPCore", "0xb36": "ARM1136", "0xb56": "ARM1156", "0xb76": "ARM1176",
    "0xc05": "Cortex-A5", "0xc07": "Cortex-A7", "0xc08": "Cortex-A8", "0xc09": "Cortex-A9",
    "0xc0d": "Cortex-A17", "0xc0f": "Cortex-A15", "0xc0e": "Cortex-A17",
    "0xd01": "Cortex-A32", "0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55",
    "0xd07": "Cortex-A57", "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75",
    "0xd0b": "Cortex-A76", "0xd0c": "Neoverse-N1", "0xd0d": "Cortex-A77", "0xd40": "Neoverse-V1",
    "0xd41": "Cortex-A78", "0xd44": "Cortex-X1", "0xd46": "Cortex-A510", "0xd47": "Cortex-A710",
    "0xd48": "Cortex-X2", "0xd49": "Neoverse-N2", "0xd4f": "Neoverse-V2", "0xd80": "Cortex-A520",
    "0xd81": "Cortex-A720", "0xd82": "Cortex-X4", "0xd84": "Neoverse-V3", "0xd85": "Cortex-X925",
    "0xd87": "Cortex-A725", "0xd8e": "Neoverse-N3",
]

/// Part numbers of other ARM implementers that appear in server and board cpuinfo files, named
/// as util-linux 2.38's lscpu names them (lscpu-arm.c), so the two agree.
let otherArmParts: [String: [String: String]] = [
    "0x43": ["0x0a1": "ThunderX-88XX", "0x0a2": "ThunderX-81XX", "0x0a3": "ThunderX-83XX", "0x0af": "ThunderX2-99xx"],
    "0x48": ["0xd01": "Kunpeng-920", "0xd02": "TaiShan-v120"],
    "0x4e": ["0x000": "Denver", "0x003": "Denver 2", "0x004": "Carmel"],
    "0x50": ["0x000": "X-Gene"],
    "0xc0": ["0xac3": "Ampere-1", "0xac4": "Ampere-1a"],
]

/// The ARM core name from `CPU implementer` / `CPU part` (e.g. `Cortex-A72`), when known.
public func cpuPartName(implementer: String?, part: String?) -> String? {
    guard let implementer = implementer?.lowercased(), let part = part?.lowercased() else { return nil }
    if implementer == "0x41" { return armParts[part] }
    return otherArmParts[implementer]?[part]
}

/// Expands a kernel CPU list (`0-3,8,10-11`) into numbers; nil when malformed.
public func parseCPUList(_ text: String) -> [Int]? {
    var result: [Int] = []
    for item in text.trimmed.split(separator: ",", omittingEmptySubsequences: true) {
        let bounds = item.split(separator: "-", maxSplits: 1)
        guard let low = Int(bounds[0]) else { return nil }
        let high = bounds.count == 2 ? Int(bounds[1]) : low
        guard let high, high >= low, high - low < 1 << 20 else { return nil }
        result.append(contentsOf: low...high)
    }
    return result
}

/// Formats numbers as a kernel CPU list: `[0,1,2,3,8]` → `0-3,8`.
public func formatCPUList(_ numbers: [Int]) -> String {
    let sorted = Array(Set(numbers)).sorted()
    var parts: [String] = []
    var index = 0
    while index < sorted.count {
        var end = index
        while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
        parts.append(end == index ? String(sorted[index]) : "\(sorted[index])-\(sorted[end])")
        index = end + 1
    }
    return parts.joined(separator: ",")
}

/// A cache size as sysfs and cpuinfo write it (`32K`, `1024K`, `16M`, `512 KB`) in bytes.
public func parseSizeWithUnit(_ text: String) -> Int64? {
    var digits = ""
    var unit = ""
    for character in text.trimmed {
        if character.isNumber && unit.isEmpty { digits.append(character) } else if character != " " { unit.append(character) }
    }
    guard let value = Int64(digits) else { return nil }
    switch unit.uppercased() {
    case "", "B": return value
    case "K", "KB", "KIB": return value << 10
    case "M", "MB", "MIB": return value << 20
    case "G", "GB", "GIB": return value << 30
    default: return nil
    }
}
