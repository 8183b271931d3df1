import ProvenanceCore
import ProvenanceProbeKit

/// How GPUs, NICs and CPUs are connected: the matrix of `nvidia-smi topo -m` (NVLink, PCIe and
/// CPU-interconnect paths between GPUs, GPU–NIC distances, CPU and NUMA affinity per GPU).
///
/// Off by default (`capture --probe gpu.topology`): nvidia-smi starts slowly (100 ms to seconds
/// on a node with many GPUs) and the matrix matters to multi-GPU and multi-node jobs only. Runs
/// `nvidia-smi topo -m`; on a live machine the parsed matrix is cached (`CommandCache`) while the
/// nvidia-smi executable and the boot (`/proc/sys/kernel/random/boot_id`) are the same, since the
/// topology changes only with the hardware. `absent` without nvidia-smi or without a loaded
/// driver (exit status 9); `failed` when it hangs, fails otherwise, or prints no matrix.
public struct NVIDIATopologyProbe: Probe {
    public typealias Output = GPUTopologySection

    public static let command = ["nvidia-smi", "topo", "-m"]
    let cache: CommandCache?

    public init(cache: CommandCache? = nil) { self.cache = cache }

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "gpu.topology", version: "1.0.0",
            summary: "GPU interconnect topology (nvidia-smi topo -m): NVLink/PCIe paths between GPUs, GPU–NIC, CPU and NUMA affinity",
            reads: ["/proc/sys/kernel/random/boot_id (cache key)"],
            runs: ["nvidia-smi topo -m"], enabledByDefault: false)
    }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let fs = context.fs
        var cacheKey: (key: String, identity: String)?
        if let cache, fs.isLive, let onPath = context.commands.resolve("nvidia-smi"),
           let executable = CommandCache.identity(of: resolveSymlinks(onPath, fs)),
           let boot = fs.attribute("/proc/sys/kernel/random/boot_id") {
            cacheKey = ("gpu.topology:" + onPath, "\(executable);boot=\(boot)")
            if let value = cache.value(for: cacheKey!.key, identity: cacheKey!.identity),
               let cached = try? JSONValueDecoder().decode(Output.self, from: value) {
                return cached
            }
        }
        let result = context.run(Self.command)
        guard result.succeeded else {
            if result.outcome == .notFound {
                throw ProbeAbsent(source: "nvidia-smi", reason: "nvidia-smi is not installed")
            }
            if result.outcome == .exited(9) {
                throw ProbeAbsent(source: "nvidia-smi topo -m", reason: "no NVIDIA driver loaded: \(result.failureDescription)")
            }
            throw ProbeFailure("nvidia-smi topo -m \(result.failureDescription)")
        }
        let parsed = try parseNVIDIASMITopoMatrix(result.stdoutText)
        for problem in parsed.problems.prefix(10) { report.issue("nvidia-smi topo -m", problem) }
        if let cache, let cacheKey, parsed.problems.isEmpty, let value = try? JSONValueEncoder().encode(parsed.section) {
            cache.remember(value, for: cacheKey.key, identity: cacheKey.identity)
            cache.save()
        }
        return parsed.section
    }
}

/// The text of `nvidia-smi topo -m` parsed: the header row names the columns (GPUs, NICs, then
/// `CPU Affinity`, `NUMA Affinity`, `GPU NUMA ID` on newer drivers), one tab-separated row per
/// device, `X` on the diagonal, and a `NIC Legend` naming each NIC's device. Terminal escapes
/// (nvidia-smi underlines the header) are dropped. Rows end with an empty cell before
/// `GPU NUMA ID` (drivers 535–610 print two tabs there), so trailing columns are taken by name
/// from the right. Throws when there is no matrix.
public func parseNVIDIASMITopoMatrix(_ text: String) throws -> (section: GPUTopologySection, problems: [String]) {
    let lines = text.lines.map { stripTerminalEscapes($0).trimmingCharacters(in: "\r") }
    // The header row has an empty first cell (the row names' column); device rows do not.
    guard let headerIndex = lines.firstIndex(where: { line in
        let cells = line.split(separator: "\t", omittingEmptySubsequences: false).map { $0.trimmed }
        return cells.count > 1 && cells[0].isEmpty && cells.dropFirst().first { !$0.isEmpty }.map(isTopologyDeviceName) == true
    }) else {
        throw ProbeFailure("nvidia-smi topo -m printed no matrix (no header row naming GPU0)")
    }
    let header: [String] = Array(lines[headerIndex].split(separator: "\t", omittingEmptySubsequences: false)
        .map { String($0.trimmed) }.drop(while: { $0.isEmpty }))
    let deviceColumns: [String] = Array(header.prefix(while: { isTopologyDeviceName($0) }))
    let trailing: [String] = Array(header.dropFirst(deviceColumns.count))
    var problems: [String] = []
    var devices: [TopologyDevice] = []
    var links: [TopologyLink] = []
    var seenPairs = Set<String>()

    for (offset, line) in lines[(headerIndex + 1)...].enumerated() {
        let cells = line.split(separator: "\t", omittingEmptySubsequences: false).map { $0.trimmed }
        guard let name = cells.first, isTopologyDeviceName(name) else {
            if line.trimmed.isEmpty || line.hasPrefix("Legend") { break }
            problems.append("line \(headerIndex + offset + 2): not a matrix row: '\(line.prefix(80))'")
            continue
        }
        var device = TopologyDevice(name: name, kind: name.hasPrefix("GPU") ? "gpu" : "nic")
        let connections = Array(cells.dropFirst().prefix(deviceColumns.count))
        if connections.count < deviceColumns.count {
            problems.append("\(name): \(connections.count) of \(deviceColumns.count) connections")
        }
        for (column, connection) in zip(deviceColumns, connections) where column != name {
            let pair = [name, column].sorted().joined(separator: "|")
            guard seenPairs.insert(pair).inserted else { continue }
            guard !connection.isEmpty, connection != "X" else {
                problems.append("\(name)–\(column): '\(connection)'")
                continue
            }
            var link = TopologyLink(from: name, to: column, connection: connection)
            if connection.hasPrefix("NV") { link.nvlinks = Int(connection.dropFirst(2)) }
            links.append(link)
        }
        // The columns after the matrix, by name, from the right for GPU NUMA ID (see above).
        var rest = Array(cells.dropFirst(1 + deviceColumns.count))
        func value(_ text: String?) -> String? { text.flatMap { $0.isEmpty || $0 == "N/A" ? nil : $0 } }
        if trailing.last == "GPU NUMA ID", rest.count >= trailing.count {
            device.gpuNUMAID = value(rest.removeLast())
        }
        if let index = trailing.firstIndex(of: "CPU Affinity"), index < rest.count { device.cpuAffinity = value(rest[index]) }
        if let index = trailing.firstIndex(of: "NUMA Affinity"), index < rest.count { device.numaAffinity = value(rest[index]) }
        devices.append(device)
    }
    // NIC Legend: `  NIC0: mlx5_0`.
    if let legend = lines.firstIndex(where: { $0.hasPrefix("NIC Legend") }) {
        for line in lines[legend...].dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmed }
            guard parts.count == 2, let index = devices.firstIndex(where: { $0.name == parts[0] }) else { continue }
            devices[index].deviceName = parts[1]
        }
    }
    guard !devices.isEmpty else { throw ProbeFailure("nvidia-smi topo -m printed a header but no device rows") }
    return (GPUTopologySection(devices: devices, links: links), problems)
}

/// `GPU0`, `NIC12` (a matrix row or column name).
func isTopologyDeviceName(_ text: some StringProtocol) -> Bool {
    for prefix in ["GPU", "NIC"] where text.hasPrefix(prefix) {
        let number = text.dropFirst(3)
        return !number.isEmpty && number.allSatisfy(\.isNumber)
    }
    return false
}

/// The text without ANSI/VT100 escape sequences (`ESC [ 4 m`) and other control characters but tab.
func stripTerminalEscapes(_ text: String) -> String {
    var result = ""
    var iterator = text.unicodeScalars.makeIterator()
    while let scalar = iterator.next() {
        if scalar == "\u{1B}" {
            // CSI: ESC [ parameters final-byte (0x40–0x7E); other escapes: ESC and one character.
            guard let next = iterator.next() else { break }
            if next == "[" {
                while let byte = iterator.next(), !(0x40...0x7E).contains(byte.value) {}
            }
            continue
        }
        if scalar.value < 0x20 && scalar != "\t" || scalar.value == 0x7F { continue }
        result.unicodeScalars.append(scalar)
    }
    return result
}
