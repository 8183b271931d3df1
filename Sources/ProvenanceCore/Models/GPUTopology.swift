/// How GPUs, NICs and CPUs are connected, as `nvidia-smi topo -m` prints it (opt-in section
/// `gpu.topology`): which GPU pairs talk over NVLink and which over PCIe or the CPU interconnect,
/// which NIC sits next to which GPU, and the CPUs and NUMA node each GPU is close to. NCCL and
/// MPI choose their paths from this; a changed matrix changes speed, not results.
public struct GPUTopologySection: SectionModel {
    public static let sectionID = "gpu.topology"

    /// GPUs then NICs, in nvidia-smi's order (`GPU0`…, `NIC0`…).
    public var devices: [TopologyDevice]
    /// One entry per unordered pair of devices, in matrix order (row before column).
    public var links: [TopologyLink]

    public init(devices: [TopologyDevice], links: [TopologyLink]) {
        self.devices = devices
        self.links = links
    }
}

/// One row of the matrix.
public struct TopologyDevice: Codable, Equatable, Sendable {
    /// `GPU0`, `NIC3`, as nvidia-smi names them.
    public var name: String
    /// `gpu` or `nic`.
    public var kind: String
    /// The NIC's device name from the legend (`mlx5_3`).
    public var deviceName: String?
    /// `CPU Affinity`: a kernel CPU list (`0-63,128-191`).
    public var cpuAffinity: String?
    /// `NUMA Affinity`: the NUMA node(s) near the GPU (`0`).
    public var numaAffinity: String?
    /// `GPU NUMA ID`: the GPU's own memory as a NUMA node (Grace Hopper); absent when `N/A`.
    public var gpuNUMAID: String?

    public init(name: String, kind: String, deviceName: String? = nil, cpuAffinity: String? = nil,
                numaAffinity: String? = nil, gpuNUMAID: String? = nil) {
        self.name = name
        self.kind = kind
        self.deviceName = deviceName
        self.cpuAffinity = cpuAffinity
        self.numaAffinity = numaAffinity
        self.gpuNUMAID = gpuNUMAID
    }
}

/// How two devices reach each other.
public struct TopologyLink: Codable, Equatable, Sendable {
    public var from: String
    public var to: String
    /// As the matrix writes it: `NV18` (a bonded set of 18 NVLinks), `SYS` (PCIe and the
    /// interconnect between NUMA nodes), `NODE` (PCIe and the interconnect between host bridges
    /// of one NUMA node), `PHB` (a PCIe host bridge), `PXB` (several PCIe bridges), `PIX` (at most
    /// one PCIe bridge); older drivers: `SOC` (as `SYS`).
    public var connection: String
    /// The number of NVLinks of an `NV#` connection.
    public var nvlinks: Int?

    public init(from: String, to: String, connection: String, nvlinks: Int? = nil) {
        self.from = from
        self.to = to
        self.connection = connection
        self.nvlinks = nvlinks
    }
}

extension GPUTopologySection {
    public static var listIdentities: [String: String] { ["devices": "name"] }

    public var summary: String {
        let gpus = devices.filter { $0.kind == "gpu" }.count
        let nics = devices.filter { $0.kind == "nic" }.count
        let nvlinkPairs = links.filter { $0.nvlinks != nil }.count
        var parts = ["\(gpus) GPU\(gpus == 1 ? "" : "s")"]
        if nics > 0 { parts.append("\(nics) NIC\(nics == 1 ? "" : "s")") }
        if gpus > 1 { parts.append("\(nvlinkPairs) NVLink pair\(nvlinkPairs == 1 ? "" : "s")") }
        return parts.joined(separator: ", ")
    }
}
