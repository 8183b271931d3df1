public struct ContainerSection: SectionModel {
    public static let sectionID = "container"

    /// `docker`, `podman`, `containerd`, `cri-o`, `lxc`, `apptainer`, `singularity`, or what
    /// `container=` says (`systemd-nspawn`); absent when no signal names the engine.
    public var engine: String?
    /// The engine's version, where the container states it (`/run/.containerenv`).
    public var engineVersion: String?
    /// `kubernetes` when the container belongs to a pod.
    public var orchestrator: String?
    /// The image as the engine names it (`localhost/probe-test:1`; apptainer: the SIF file name).
    public var imageName: String?
    /// The image id as the engine states it (podman: the config digest, hex).
    public var imageId: String?
    /// The image's manifest digest (`sha256:…`).
    public var imageDigest: String?
    /// Where the digest came from (`environment PROVENANCE_IMAGE_DIGEST`).
    public var imageDigestSource: String?
    /// Whether the engine runs without root (`/run/.containerenv` `rootless=`).
    public var rootless: Bool?
    /// Image labels (apptainer/singularity `/.singularity.d/labels.json`).
    public var labels: [String: String]?
    /// The signals that showed the container, in the order they were weighed.
    public var evidence: [Evidence]
    public var cgroup: CgroupLimits?

    public init(engine: String? = nil, engineVersion: String? = nil, orchestrator: String? = nil, imageName: String? = nil, imageId: String? = nil, imageDigest: String? = nil, imageDigestSource: String? = nil, rootless: Bool? = nil, labels: [String: String]? = nil, evidence: [Evidence], cgroup: CgroupLimits? = nil) {
        self.engine = engine
        self.engineVersion = engineVersion
        self.orchestrator = orchestrator
        self.imageName = imageName
        self.imageId = imageId
        self.imageDigest = imageDigest
        self.imageDigestSource = imageDigestSource
        self.rootless = rootless
        self.labels = labels
        self.evidence = evidence
        self.cgroup = cgroup
    }

    public struct Evidence: Codable, Equatable, Sendable {
        public var source: String
        public var signal: String
        public var engine: String?
        /// False for a signal that does not show a container on its own (`/.dockerenv`).
        public var decisive: Bool

        public init(source: String, signal: String, engine: String? = nil, decisive: Bool) {
            self.source = source
            self.signal = signal
            self.engine = engine
            self.decisive = decisive
        }
    }

    /// The cgroup limits of the process (the tightest of its cgroup and the ancestors it can see).
    /// A controller named without a limit means no limit is set.
    public struct CgroupLimits: Codable, Equatable, Sendable {
        /// The hierarchies mounted: `v1`, `v2` or `hybrid`.
        public var hierarchy: String?
        /// Where the CPU limit was read: `v2` (`cpu.max`) or `v1` (`cpu.cfs_quota_us`).
        public var cpuController: String?
        public var cpuQuotaMicros: Int64?
        public var cpuPeriodMicros: Int64?
        /// The CPUs the quota allows, in thousandths of a CPU (`--cpus 1.5` → 1500).
        public var cpuLimitMilliCPUs: Int64?
        /// Where the memory limit was read: `v2` (`memory.max`) or `v1` (`memory.limit_in_bytes`).
        public var memoryController: String?
        public var memoryLimitBytes: Int64?
        /// The CPUs the process may run on (kernel CPU list), from the cpuset controller.
        public var cpusetCPUs: String?

        public init(hierarchy: String? = nil, cpuController: String? = nil, cpuQuotaMicros: Int64? = nil, cpuPeriodMicros: Int64? = nil, cpuLimitMilliCPUs: Int64? = nil, memoryController: String? = nil, memoryLimitBytes: Int64? = nil, cpusetCPUs: String? = nil) {
            self.hierarchy = hierarchy
            self.cpuController = cpuController
            self.cpuQuotaMicros = cpuQuotaMicros
            self.cpuPeriodMicros = cpuPeriodMicros
            self.cpuLimitMilliCPUs = cpuLimitMilliCPUs
            self.memoryController = memoryController
            self.memoryLimitBytes = memoryLimitBytes
            self.cpusetCPUs = cpusetCPUs
        }
    }
}

extension ContainerSection {
    public var summary: String {
        [engine ?? "no container engine", imageName, orchestrator].compactMap { $0 }.joined(separator: ", ")
    }
}
