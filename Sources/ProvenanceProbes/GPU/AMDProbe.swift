import ProvenanceCore
import ProvenanceProbeKit

/// AMD GPUs: the amdgpu driver version, and per card its series / model / SKU, unique id, VBIOS,
/// PCI address and ids, and VRAM size.
///
/// Runs `rocm-smi --showallinfo --json` and parses it (`parseROCmSMIJSON`), then reads
/// `/sys/class/drm/card*/device/{vendor,device,subsystem_vendor,subsystem_device,vbios_version,
/// mem_info_vram_total,unique_id,uevent,driver}` to add the PCI ids and to cross-check the VRAM
/// size, VBIOS and PCI address (a disagreement is an issue). When rocm-smi is not installed,
/// fails, times out or prints something that is not its JSON, the cards come from sysfs alone
/// (plus `/sys/module/amdgpu/version`, which only the DKMS driver has) and the rocm-smi problem
/// is an issue: the section is `partial`.
///
/// Status when there is no amdgpu card in `/sys/class/drm`: `absent` when rocm-smi is not
/// installed, prints nothing and exits 0 (what it does without the amdgpu driver) or exits
/// non-zero; `failed` when it hung or printed output that cannot be parsed, since then something
/// is installed and broken. Volatile values (edge temperature, GPU use, VRAM in use) go to
/// `volatile`.
public struct AMDProbe: Probe {
    public init() {}

    public static let command = ["rocm-smi", "--showallinfo", "--json"]

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "gpu.amd", version: "1.0.0",
            summary: "AMD GPUs: amdgpu driver version; per card series/model/SKU, unique id, VBIOS, PCI address, VRAM",
            reads: ["/sys/module/amdgpu, /sys/class/kfd (live: rocm-smi is skipped without either)", "/sys/class/drm/card*/device/{vendor,device,subsystem_vendor,subsystem_device,vbios_version,"
                    + "mem_info_vram_total,unique_id,uevent,driver}", "/sys/module/amdgpu/version"],
            runs: ["rocm-smi --showallinfo --json"])
    }

    public typealias Output = AMDSection

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        // Live, without the amdgpu driver rocm-smi can only say "no GPU", after ~300 ms of Python
        // start-up: skip it. (A recorded machine is always asked, as FIXTURES.md requires.)
        if context.fs.isLive && !context.fs.exists("/sys/module/amdgpu") && !context.fs.exists("/sys/class/kfd") {
            throw ProbeAbsent(source: "/sys/module/amdgpu",
                              reason: "the amdgpu driver is not loaded; rocm-smi would find no AMD GPU")
        }
        let result = context.run(Self.command)
        let sysfsCards = readAMDGPUSysfsCards(context.fs, report)
        let problem: String
        if result.succeeded {
            if result.stdoutText.trimmed.isEmpty {
                guard !sysfsCards.isEmpty else {
                    throw ProbeAbsent(
                        source: "rocm-smi",
                        reason: "rocm-smi found no AMD GPU (empty output) and /sys/class/drm has no amdgpu card")
                }
                problem = "printed nothing although /sys/class/drm has amdgpu cards"
            } else {
                do {
                    let parsed = try parseROCmSMIJSON(result.stdoutText)
                    return merge(parsed, sysfsCards, report)
                } catch {
                    problem = "unparsable output: \(error)"
                }
            }
        } else {
            problem = result.failureDescription
        }

        if !sysfsCards.isEmpty {
            report.issue("rocm-smi --showallinfo --json", problem)
            return Output(source: "sysfs", driverVersion: context.fs.attribute("/sys/module/amdgpu/version"),
                          cardCount: sysfsCards.count, cards: sysfsCards)
        }
        switch result.outcome {
        case .notFound:
            throw ProbeAbsent(source: "rocm-smi",
                              reason: "rocm-smi is not installed and /sys/class/drm has no amdgpu card")
        case .exited(let code) where code != 0:
            throw ProbeAbsent(source: "rocm-smi",
                              reason: "no amdgpu card in /sys/class/drm; rocm-smi \(problem)")
        default:
            throw ProbeFailure("rocm-smi --showallinfo --json \(problem), and /sys/class/drm has no amdgpu card")
        }
    }

    /// rocm-smi's cards, completed with sysfs's PCI ids and checked against sysfs.
    func merge(_ parsed: ROCmSMIReport, _ sysfsCards: [AMDGPUCard], _ report: ProbeReport) -> Output {
        for problem in parsed.problems.prefix(20) { report.issue("rocm-smi --showallinfo --json", problem) }
        let byName = Dictionary(sysfsCards.map { ($0.card, $0) }, uniquingKeysWith: { first, _ in first })
        var cards: [AMDGPUCard] = []
        for var card in parsed.cards {
            if let sysfs = byName[card.card] {
                let place = "/sys/class/drm/\(card.card)/device"
                card.pciVendorId = sysfs.pciVendorId
                card.pciDeviceId = sysfs.pciDeviceId
                card.pciSubsystemVendorId = sysfs.pciSubsystemVendorId
                card.pciSubsystemDeviceId = sysfs.pciSubsystemDeviceId
                if let a = card.vramTotalBytes, let b = sysfs.vramTotalBytes, a != b {
                    report.issue(place, "mem_info_vram_total is \(b) but rocm-smi says \(a)")
                }
                if let a = card.vbiosVersion, let b = sysfs.vbiosVersion, a != b {
                    report.issue(place, "vbios_version is '\(b)' but rocm-smi says '\(a)'")
                }
                if let a = card.pciBusNormalized, let b = sysfs.pciBusNormalized, a != b {
                    report.issue(place, "PCI address is \(b) but rocm-smi says \(a)")
                }
                card.vramTotalBytes = card.vramTotalBytes ?? sysfs.vramTotalBytes
                card.vbiosVersion = card.vbiosVersion ?? sysfs.vbiosVersion
                card.uniqueId = card.uniqueId ?? sysfs.uniqueId
                if card.pciBus == nil {
                    card.pciBus = sysfs.pciBus
                    card.pciBusNormalized = sysfs.pciBusNormalized
                }
            }
            cards.append(card)
        }
        cards.sort(by: amdCardOrder)
        let volatile = parsed.volatile.compactMap { entry -> JSONValue? in
            var object: [String: JSONValue] = ["card": .string(entry.card)]
            if let value = entry.temperatureEdgeC { object["temperatureEdgeC"] = .int(value) }
            if let value = entry.utilizationPercent { object["utilizationPercent"] = .int(value) }
            if let value = entry.vramUsedBytes { object["vramUsedBytes"] = .int(value) }
            return object.count > 1 ? .object(object) : nil
        }
        if !volatile.isEmpty { report.volatile = .object(["cards": .array(volatile)]) }
        return Output(source: "rocm-smi", driverVersion: parsed.driverVersion, cardCount: cards.count, cards: cards)
    }

    /// The amdgpu cards of `/sys/class/drm` (vendor `0x1002`, bound to amdgpu or to no driver
    /// that sysfs names), sorted by PCI address.
    func readAMDGPUSysfsCards(_ fs: RootedFileSystem, _ report: ProbeReport) -> [AMDGPUCard] {
        let base = "/sys/class/drm"
        let names: [String]
        do {
            names = try fs.list(base) ?? []
        } catch {
            report.issue(base, error.message)
            return []
        }
        var cards: [AMDGPUCard] = []
        for name in names where isDRMCardName(name) {
            let device = "\(base)/\(name)/device"
            guard fs.attribute("\(device)/vendor")?.lowercased() == "0x1002" else { continue }
            let uevent = (try? fs.read("\(device)/uevent")) ?? nil
            let driver = fs.readLink("\(device)/driver").map { String($0.split(separator: "/").last ?? "") }
                ?? uevent.flatMap { parseUeventField($0, "DRIVER") }
            if let driver, driver != "amdgpu" { continue }
            var card = AMDGPUCard(card: name)
            card.pciVendorId = fs.attribute("\(device)/vendor")?.lowercased()
            card.pciDeviceId = fs.attribute("\(device)/device")?.lowercased()
            card.pciSubsystemVendorId = fs.attribute("\(device)/subsystem_vendor")?.lowercased()
            card.pciSubsystemDeviceId = fs.attribute("\(device)/subsystem_device")?.lowercased()
            card.vbiosVersion = fs.attribute("\(device)/vbios_version")
            card.uniqueId = fs.attribute("\(device)/unique_id")
            if let vram = fs.attribute("\(device)/mem_info_vram_total") {
                card.vramTotalBytes = Int64(vram)
                if card.vramTotalBytes == nil { report.issue("\(device)/mem_info_vram_total", "unexpected value '\(vram)'") }
            }
            // The PCI address: uevent's PCI_SLOT_NAME, else the target of the `device` link.
            let slot = uevent.flatMap { parseUeventField($0, "PCI_SLOT_NAME") }
                ?? fs.readLink(device).map { String($0.split(separator: "/").last ?? "") }
            if let slot, let normalized = normalizePCIBusID(slot) {
                card.pciBus = slot
                card.pciBusNormalized = normalized
            }
            cards.append(card)
        }
        return cards.sorted(by: amdCardOrder)
    }
}
