import ProvenanceCore
import ProvenanceProbeKit

/// The changing values of one AMD GPU, kept out of the manifest's data.
public struct AMDGPUVolatile: Sendable, Equatable {
    public var card: String
    public var temperatureEdgeC: Int64?
    public var utilizationPercent: Int64?
    public var vramUsedBytes: Int64?
}

/// What `rocm-smi --showallinfo --json` says.
public struct ROCmSMIReport: Sendable, Equatable {
    /// `system` → `Driver version` (the amdgpu driver: the kernel release for the in-tree driver).
    public var driverVersion: String?
    /// Sorted by normalised PCI address, then card number.
    public var cards: [AMDGPUCard]
    public var volatile: [AMDGPUVolatile]
    /// Values present but not in a form this parser knows.
    public var problems: [String]
}

/// The error of a rocm-smi output that is not the JSON object it should be.
public struct ROCmSMIParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
}

/// Parses `rocm-smi --showallinfo --json` (and the subsets other flags print) from ROCm 4.3 to
/// 6.x: top-level `cardN` objects of `"Key": "value"` strings plus a `system` object. Key names
/// changed between releases (`GPU ID` → `Device ID`, `Card series` → `Card Series`, 6.x added
/// `Device Name`, `GFX Version`, `Subsystem ID`): keys are matched without regard to case and to a
/// trailing colon, and each field tries the names of every release. Text printed before the JSON
/// object (a warning) is skipped.
public func parseROCmSMIJSON(_ text: String) throws(ROCmSMIParseError) -> ROCmSMIReport {
    let document: JSONValue
    do {
        document = try JSONParser.parse(text)
    } catch {
        // rocm-smi versions print warnings on stdout before the JSON: retry from the first `{`.
        guard let open = text.firstIndex(of: "{"), let close = text.lastIndex(of: "}"), open < close,
              let retried = try? JSONParser.parse(String(text[open...close]))
        else { throw ROCmSMIParseError(description: "\(error)") }
        document = retried
    }
    guard let top = document.objectValue else {
        throw ROCmSMIParseError(description: "the output is not a JSON object")
    }
    var problems: [String] = []
    var entries: [(card: AMDGPUCard, volatile: AMDGPUVolatile)] = []
    for (name, value) in top where isDRMCardName(name) {
        guard let object = value.objectValue else {
            problems.append("\(name): not an object")
            continue
        }
        let parsed = parseROCmSMICard(name, object)
        problems.append(contentsOf: parsed.problems)
        entries.append((parsed.card, parsed.volatile))
    }
    entries.sort { amdCardOrder($0.card, $1.card) }
    var driverVersion: String?
    if let system = top["system"]?.objectValue {
        let keys = ROCmSMIKeys(system)
        if let value = keys.string("Driver version"), !isNVIDIASMIUnavailableMarker(value) { driverVersion = value }
    }
    return ROCmSMIReport(driverVersion: driverVersion, cards: entries.map(\.card), volatile: entries.map(\.volatile),
                         problems: problems)
}

/// `card0`, `card12`: a DRM card (not a connector such as `card0-DP-1`, not `renderD128`).
func isDRMCardName(_ name: String) -> Bool {
    name.hasPrefix("card") && name.count > 4 && name.dropFirst(4).allSatisfy { $0.isASCII && $0.isNumber }
}

/// Cards by normalised PCI address; cards without one last, by card number.
func amdCardOrder(_ a: AMDGPUCard, _ b: AMDGPUCard) -> Bool {
    let left = a.pciBusNormalized ?? "~"
    let right = b.pciBusNormalized ?? "~"
    if left != right { return left < right }
    return (Int(a.card.dropFirst(4)) ?? Int.max) < (Int(b.card.dropFirst(4)) ?? Int.max)
}

/// The string values of one rocm-smi object, looked up by any of several key spellings.
struct ROCmSMIKeys {
    var values: [String: String] = [:]

    init(_ object: [String: JSONValue]) {
        for (key, value) in object {
            guard let text = value.stringValue ?? value.intValue.map({ String($0) }) else { continue }
            let normalized = Self.normalize(key)
            if values[normalized] == nil { values[normalized] = text.trimmed }
        }
    }

    static func normalize(_ key: String) -> String {
        var trimmed = key.trimmed.lowercased()
        while trimmed.hasSuffix(":") { trimmed.removeLast() }
        return trimmed.trimmed
    }

    func string(_ names: String...) -> String? {
        for name in names {
            if let value = values[Self.normalize(name)] { return value }
        }
        return nil
    }
}

/// One `cardN` object of rocm-smi's JSON.
func parseROCmSMICard(_ name: String, _ object: [String: JSONValue])
    -> (card: AMDGPUCard, volatile: AMDGPUVolatile, problems: [String])
{
    let keys = ROCmSMIKeys(object)
    var card = AMDGPUCard(card: name)
    var unavailable: [String: String] = [:]
    var problems: [String] = []
    func value(_ field: String, _ names: String...) -> String? {
        for key in names {
            guard let text = keys.string(key) else { continue }
            if text.isEmpty { return nil }
            if isNVIDIASMIUnavailableMarker(text) {
                unavailable[field] = text
                return nil
            }
            return text
        }
        return nil
    }
    card.series = value("series", "Card Series")
    card.deviceName = value("deviceName", "Device Name")
    card.model = value("model", "Card Model")
    card.vendor = value("vendor", "Card Vendor")
    card.sku = value("sku", "Card SKU")
    card.deviceId = value("deviceId", "Device ID", "GPU ID")
    card.deviceRevision = value("deviceRevision", "Device Rev")
    card.subsystemId = value("subsystemId", "Subsystem ID")
    card.gfxVersion = value("gfxVersion", "GFX Version")
    card.uniqueId = value("uniqueId", "Unique ID")
    card.serial = value("serial", "Serial Number")
    card.vbiosVersion = value("vbiosVersion", "VBIOS version")
    card.memoryVendor = value("memoryVendor", "GPU memory vendor")
    if let bus = value("pciBus", "PCI Bus") {
        card.pciBus = bus
        card.pciBusNormalized = normalizePCIBusID(bus)
        if card.pciBusNormalized == nil { problems.append("\(name): PCI Bus: unexpected value '\(bus)'") }
    }
    if let vram = value("vramTotalBytes", "VRAM Total Memory (B)") {
        card.vramTotalBytes = Int64(vram)
        if card.vramTotalBytes == nil { problems.append("\(name): VRAM Total Memory (B): unexpected value '\(vram)'") }
    }
    if let node = value("numaNode", "(Topology) Numa Node") {
        card.numaNode = Int(node)
        if card.numaNode == nil { problems.append("\(name): (Topology) Numa Node: unexpected value '\(node)'") }
    }
    card.unavailable = unavailable.isEmpty ? nil : unavailable

    func quiet(_ names: String...) -> String? {
        for key in names {
            if let text = keys.string(key), !isNVIDIASMIUnavailableMarker(text) { return text }
        }
        return nil
    }
    let volatile = AMDGPUVolatile(
        card: name,
        temperatureEdgeC: quiet("Temperature (Sensor edge) (C)").flatMap(parseWholeDecimal),
        utilizationPercent: quiet("GPU use (%)").flatMap(parseWholeDecimal),
        vramUsedBytes: quiet("VRAM Total Used Memory (B)").flatMap { Int64($0) })
    return (card, volatile, problems)
}

/// The whole part of a decimal number written as text (`45.0` → 45, `47` → 47), without floats.
func parseWholeDecimal(_ text: String) -> Int64? {
    let pieces = text.trimmed.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let whole = Int64(pieces[0]) else { return nil }
    if pieces.count == 2 && !pieces[1].allSatisfy({ $0.isASCII && $0.isNumber }) { return nil }
    return whole
}

/// The value of `key` in a sysfs `uevent` file (`KEY=value` lines), e.g. `PCI_SLOT_NAME`.
public func parseUeventField(_ text: String, _ key: String) -> String? {
    for line in text.lines {
        let pair = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        if pair.count == 2 && pair[0] == key { return String(pair[1]).trimmed }
    }
    return nil
}
