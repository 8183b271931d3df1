// The fabric sections: RDMA adapters (rdma; not `infiniband`, the id of the example external probe Probes/infiniband.yaml) and the MPI / UCX / libfabric stack (mpi).
// Pure data; filled by `InfiniBandProbe` and `MPIProbe`.

/// RDMA adapters of `/sys/class/infiniband` (InfiniBand, RoCE, iWARP, Omni-Path).
public struct InfiniBandSection: Codable, Equatable, Sendable {
    /// Sorted by name.
    public var adapters: [RDMAAdapter]

    public init(adapters: [RDMAAdapter]) { self.adapters = adapters }
}

/// One adapter: `mlx5_0`.
public struct RDMAAdapter: Codable, Equatable, Sendable {
    public var name: String
    /// `hca_type` (`MT4129`: ConnectX-7).
    public var hcaType: String?
    /// `board_id` (`MT_0000000838`).
    public var boardID: String?
    /// `fw_ver` (`28.41.1000`).
    public var firmware: String?
    /// Sorted by number.
    public var ports: [RDMAPort]

    public init(name: String, hcaType: String? = nil, boardID: String? = nil, firmware: String? = nil, ports: [RDMAPort] = []) {
        self.name = name
        self.hcaType = hcaType
        self.boardID = boardID
        self.firmware = firmware
        self.ports = ports
    }
}

/// One port of an adapter.
public struct RDMAPort: Codable, Equatable, Sendable {
    public var number: Int
    /// `state` without its number: `ACTIVE`, `DOWN`, `INIT`.
    public var state: String?
    /// `phys_state` without its number: `LinkUp`, `Disabled`, `Polling`.
    public var physicalState: String?
    /// `rate` as written (`400 Gb/sec (4X NDR)`).
    public var rate: String?
    /// The rate's leading number in Gb/s (`400`), when it is a whole number.
    public var rateGbps: Int?
    /// `link_layer`: `InfiniBand` or `Ethernet` (RoCE).
    public var linkLayer: String?

    public init(number: Int) { self.number = number }
}

/// The MPI implementations and the communication libraries under them.
public struct MPISection: Codable, Equatable, Sendable {
    /// Sorted by name.
    public var implementations: [MPIImplementation]?
    /// `ucx_info -v`: the UCX version (`1.11.1`) and revision.
    public var ucx: CommunicationLibrary?
    /// `fi_info --version`: the libfabric version (`1.19.0amzn3.0`) and its API.
    public var libfabric: CommunicationLibrary?

    public init() {}
}

/// One MPI implementation found on the PATH.
public struct MPIImplementation: Codable, Equatable, Sendable {
    /// `Open MPI`, `MPICH`, `Intel MPI` or `MVAPICH`.
    public var name: String
    public var version: String
    /// The command that answered (`ompi_info`, `mpichversion`, `mpirun --version`).
    public var source: String
    /// MPICH's device (`ch4:ofi`); Intel MPI's build (`20200312`).
    public var device: String?
    public var build: String?
    /// Open MPI's installation prefix.
    public var prefix: String?
    /// The configure options (MPICH `MPICH configure:`, Open MPI `Configure command line:`).
    public var configure: String?
    /// Open MPI: MCA components of the frameworks that choose the transport (`pml`, `btl`, `mtl`),
    /// framework → component names, sorted.
    public var transportComponents: [String: [String]]?

    public init(name: String, version: String, source: String) {
        self.name = name
        self.version = version
        self.source = source
    }
}

/// UCX or libfabric.
public struct CommunicationLibrary: Codable, Equatable, Sendable {
    public var version: String
    /// UCX's git revision; libfabric's API version.
    public var revision: String?
    public var api: String?
    /// UCX's configure options (`--with-cuda=/usr/local/cuda-11.2`).
    public var configure: String?

    public init(version: String) { self.version = version }
}
