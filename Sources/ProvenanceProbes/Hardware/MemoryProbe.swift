import ProvenanceCore
import ProvenanceProbeKit

/// Memory: total RAM and swap, huge pages, transparent huge pages, per-NUMA-node totals.
///
/// Reads `/proc/meminfo` (the machine total: the kernel's `MemTotal`, which is what the OS can use;
/// per-node totals from `/sys/devices/system/node/node*/meminfo` may not add up to it),
/// `/sys/kernel/mm/hugepages/hugepages-*/nr_hugepages` and
/// `/sys/kernel/mm/transparent_hugepage/enabled`. Free and available memory go to `volatile`, and
/// so do per-node totals: with deferred struct-page initialisation (`deferred_init`) a node's
/// MemTotal grows for a while after boot, so it is not a stable fact of the machine.
public struct MemoryProbe: Probe {
    public init() {}

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "memory", version: "1.0.0",
            summary: "RAM and swap totals, huge pages, transparent huge pages, per-NUMA-node memory",
            reads: ["/proc/meminfo", "/sys/devices/system/node/node*/meminfo",
                    "/sys/kernel/mm/hugepages/hugepages-*/nr_hugepages", "/sys/kernel/mm/transparent_hugepage/enabled"])
    }

    public typealias Output = MemorySection
    public typealias HugePages = MemorySection.HugePages
    public typealias HugePagePool = MemorySection.HugePagePool
    public typealias NUMANodeMemory = MemorySection.NUMANodeMemory

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let fs = context.fs
        var output = Output()
        var volatile: [String: JSONValue] = [:]
        do {
            if let text = try fs.read("/proc/meminfo") {
                let parsed = parseMeminfo(text)
                for problem in parsed.problems.prefix(5) { report.issue("/proc/meminfo", problem) }
                let values = parsed.values
                output.memTotalBytes = values["MemTotal"]
                output.swapTotalBytes = values["SwapTotal"]
                if let total = values["HugePages_Total"] {
                    output.hugePages = HugePages(total: total, pageSizeBytes: values["Hugepagesize"])
                }
                if output.memTotalBytes == nil { report.issue("/proc/meminfo", "no MemTotal line") }
                for (key, name) in [("MemAvailable", "memAvailableBytes"), ("MemFree", "memFreeBytes"),
                                    ("SwapFree", "swapFreeBytes"), ("HugePages_Free", "hugePagesFree")] {
                    if let value = values[key] { volatile[name] = .int(value) }
                }
            } else {
                report.issue("/proc/meminfo", "does not exist")
            }
        } catch {
            report.issue("/proc/meminfo", error.message)
        }

        let poolBase = "/sys/kernel/mm/hugepages"
        let pools = ((try? fs.list(poolBase)) ?? []).compactMap { name -> HugePagePool? in
            guard name.hasPrefix("hugepages-"), let size = parseSizeWithUnit(String(name.dropFirst(10))),
                  let pages = fs.attribute("\(poolBase)/\(name)/nr_hugepages").flatMap({ Int64($0) }) else { return nil }
            return HugePagePool(pageSizeBytes: size, pages: pages)
        }.sorted { $0.pageSizeBytes < $1.pageSizeBytes }
        output.hugePagePools = pools.isEmpty ? nil : pools
        if let thp = fs.attribute("/sys/kernel/mm/transparent_hugepage/enabled") {
            output.transparentHugePages = selectedSysfsChoice(thp)
        }

        let nodeBase = "/sys/devices/system/node"
        var nodeTotals: [String: JSONValue] = [:]
        let nodes = ((try? fs.list(nodeBase)) ?? []).compactMap { name -> NUMANodeMemory? in
            guard name.hasPrefix("node"), let id = Int(name.dropFirst(4)) else { return nil }
            guard let text = try? fs.read("\(nodeBase)/\(name)/meminfo") else { return NUMANodeMemory(id: id) }
            let values = parseMeminfo(text).values
            if let total = values["MemTotal"] { nodeTotals[String(id)] = .int(total) }
            return NUMANodeMemory(id: id, hugePagesTotal: values["HugePages_Total"])
        }.sorted { $0.id < $1.id }
        output.numaNodes = nodes.isEmpty ? nil : nodes
        if !nodeTotals.isEmpty { volatile["numaNodeMemTotalBytes"] = .object(nodeTotals) }

        if output.memTotalBytes == nil && nodes.isEmpty {
            throw ProbeFailure("no memory information: /proc/meminfo is missing or has no MemTotal")
        }
        report.volatile = volatile.isEmpty ? nil : .object(volatile)
        return output
    }
}

/// Parses `/proc/meminfo` (or a NUMA node's `meminfo`, whose lines start `Node N `) into values,
/// with `kB` amounts converted to bytes and page counts left as they are. Lines of the old 2.4
/// layout (`Mem:  total used free ...`) are skipped.
public func parseMeminfo(_ text: String) -> (values: [String: Int64], problems: [String]) {
    var values: [String: Int64] = [:]
    var problems: [String] = []
    for (number, rawLine) in text.lines.enumerated() {
        var line = Substring(rawLine.trimmed)
        if line.isEmpty { continue }
        if line.hasPrefix("Node ") {
            // "Node 0 MemTotal:  123 kB"
            let words = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard words.count == 3 else { continue }
            line = words[2]
        }
        guard let colon = line.firstIndex(of: ":") else {
            problems.append("malformed line \(number + 1): '\(line.prefix(80))'")
            continue
        }
        let key = String(line[..<colon])
        let words = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" })
        // The 2.4 table header ("total: used: free: ...") and rows ("Mem: 1 2 3") are not key/value.
        if words.isEmpty || words.count > 2 || words.contains(where: { $0.hasSuffix(":") }) { continue }
        guard let amount = Int64(words[0]) else {
            problems.append("malformed value on line \(number + 1): '\(line.prefix(80))'")
            continue
        }
        if words.count == 2 {
            guard words[1].lowercased() == "kb" else {
                problems.append("unknown unit on line \(number + 1): '\(line.prefix(80))'")
                continue
            }
            values[key] = amount * 1024
        } else {
            values[key] = amount
        }
    }
    return (values, problems)
}

/// The bracketed choice of a sysfs selector: `always [madvise] never` → `madvise`.
public func selectedSysfsChoice(_ text: String) -> String? {
    guard let open = text.firstIndex(of: "["), let close = text[open...].firstIndex(of: "]") else { return nil }
    return String(text[text.index(after: open)..<close])
}
