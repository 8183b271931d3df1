import ProvenanceCore
import ProvenanceProbeKit

/// RDMA adapters (InfiniBand, RoCE, iWARP, Omni-Path) and their ports, from sysfs: what Open MPI,
/// UCX and NCCL maintainers ask for as `ibstat` output, without running it.
///
/// Reads `/sys/class/infiniband/*/{hca_type,board_id,fw_ver}` and
/// `/sys/class/infiniband/*/ports/*/{state,phys_state,rate,link_layer}`. Counters, GUIDs and LIDs
/// are left out (counters change; GUIDs and LIDs identify a machine, not its environment).
/// `absent` without `/sys/class/infiniband`.
public struct InfiniBandProbe: Probe {
    public typealias Output = InfiniBandSection

    public init() {}

    static let directory = "/sys/class/infiniband"

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "rdma", version: "1.0.0",
            summary: "RDMA adapters (InfiniBand/RoCE): HCA type, board id, firmware, ports with state, rate, link layer",
            reads: ["/sys/class/infiniband/*/{hca_type,board_id,fw_ver}",
                    "/sys/class/infiniband/*/ports/*/{state,phys_state,rate,link_layer}"])
    }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let fs = context.fs
        guard let names = try? fs.list(Self.directory), !names.isEmpty else {
            throw ProbeAbsent(source: Self.directory, reason: "no RDMA adapter")
        }
        var adapters: [RDMAAdapter] = []
        for name in names {
            let path = "\(Self.directory)/\(name)"
            var adapter = RDMAAdapter(name: name, hcaType: nonEmpty(fs.attribute(path + "/hca_type")),
                                      boardID: nonEmpty(fs.attribute(path + "/board_id")),
                                      firmware: nonEmpty(fs.attribute(path + "/fw_ver")))
            for portName in (try? fs.list(path + "/ports")) ?? [] {
                guard let number = Int(portName) else { continue }
                let portPath = "\(path)/ports/\(portName)"
                var port = RDMAPort(number: number)
                port.state = fs.attribute(portPath + "/state").map(stripSysfsStateNumber)
                port.physicalState = fs.attribute(portPath + "/phys_state").map(stripSysfsStateNumber)
                port.rate = nonEmpty(fs.attribute(portPath + "/rate"))
                port.rateGbps = port.rate.flatMap(parseRDMARateGbps)
                port.linkLayer = nonEmpty(fs.attribute(portPath + "/link_layer"))
                adapter.ports.append(port)
            }
            adapter.ports.sort { $0.number < $1.number }
            adapters.append(adapter)
        }
        return Output(adapters: adapters.sorted { $0.name < $1.name })
    }
}

/// `4: ACTIVE` → `ACTIVE`; `5: LinkUp` → `LinkUp`; text without a number is kept.
public func stripSysfsStateNumber(_ text: String) -> String {
    guard let colon = text.firstIndex(of: ":"), text[..<colon].allSatisfy(\.isNumber) else { return text.trimmed }
    return text[text.index(after: colon)...].trimmed
}

/// `400 Gb/sec (4X NDR)` → 400; `2.5 Gb/sec (1X SDR)` → nil (not whole).
public func parseRDMARateGbps(_ text: String) -> Int? {
    let number = text.prefix { $0.isNumber || $0 == "." }
    guard !number.contains("."), text.dropFirst(number.count).trimmed.hasPrefix("Gb/sec") else { return nil }
    return Int(number)
}
