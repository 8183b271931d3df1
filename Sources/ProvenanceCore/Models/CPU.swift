public struct CPUSection: SectionModel {
    public static let sectionID = "cpu"

    /// `x86`, `arm64`, `arm`, `powerpc`, `s390`, `riscv`, `mips`, `loongarch`, `ia64` or `sparc`.
    public var architectureFamily: String?
    /// As the kernel reports it (`GenuineIntel`, `AuthenticAMD`, `IBM/S390`); ARM: the implementer's name.
    public var vendor: String?
    /// As /proc/cpuinfo states it for the first processor; ARM64 and s390 state none.
    public var modelName: String?
    /// Processor entries in /proc/cpuinfo (SPARC: its `ncpus active`).
    public var logicalCPUs: Int
    /// Features every listed processor has (`flags` / `Features` / `features`), sorted.
    public var flags: [String]
    /// Distinct microcode revisions (x86).
    public var microcode: [String]?
    /// Family-specific identification (x86 family/model/stepping, ARM implementer/part, POWER revision,
    /// s390 machine type, RISC-V isa/mmu), from the first processor.
    public var identification: [String: String]
    /// Machine-wide cpuinfo fields (`Hardware`, `platform`, `model`, `machine`, `firmware`, `MMU`).
    public var platform: [String: String]?
    /// Present when processors differ (hybrid and big.LITTLE designs): one group per kind.
    public var coreTypes: [CoreType]?
    public var topology: Topology?
    public var caches: [Cache]?
    public var numaNodes: [NUMANode]?

    public init(architectureFamily: String? = nil, vendor: String? = nil, modelName: String? = nil, logicalCPUs: Int, flags: [String], microcode: [String]? = nil, identification: [String: String], platform: [String: String]? = nil, coreTypes: [CoreType]? = nil, topology: Topology? = nil, caches: [Cache]? = nil, numaNodes: [NUMANode]? = nil) {
        self.architectureFamily = architectureFamily
        self.vendor = vendor
        self.modelName = modelName
        self.logicalCPUs = logicalCPUs
        self.flags = flags
        self.microcode = microcode
        self.identification = identification
        self.platform = platform
        self.coreTypes = coreTypes
        self.topology = topology
        self.caches = caches
        self.numaNodes = numaNodes
    }

    public struct CoreType: Codable, Equatable, Sendable {
        public var modelName: String?
        public var part: String?
        public var partName: String?
        /// Kernel CPU list of the processors of this kind (`0-5,12`).
        public var cpus: String
        public var count: Int

        public init(modelName: String? = nil, part: String? = nil, partName: String? = nil, cpus: String, count: Int) {
            self.modelName = modelName
            self.part = part
            self.partName = partName
            self.cpus = cpus
            self.count = count
        }
    }

    public struct Topology: Codable, Equatable, Sendable {
        /// Kernel CPU lists from /sys/devices/system/cpu.
        public var online: String?
        public var possible: String?
        public var present: String?
        public var sockets: Int?
        public var dies: Int?
        public var cores: Int?
        public var threadsPerCore: Int?
        /// Source of the socket/core counts: `sysfs` or `cpuinfo`.
        public var source: String

        public init(online: String? = nil, possible: String? = nil, present: String? = nil, sockets: Int? = nil, dies: Int? = nil, cores: Int? = nil, threadsPerCore: Int? = nil, source: String) {
            self.online = online
            self.possible = possible
            self.present = present
            self.sockets = sockets
            self.dies = dies
            self.cores = cores
            self.threadsPerCore = threadsPerCore
            self.source = source
        }
    }

    public struct Cache: Codable, Equatable, Sendable {
        public var level: Int
        /// `Data`, `Instruction` or `Unified`.
        public var type: String
        public var sizeBytes: Int64?
        public var lineSizeBytes: Int?
        public var ways: Int?
        /// How many of these caches there are.
        public var instances: Int
        /// Logical CPUs sharing one instance.
        public var cpusPerInstance: Int

        public init(level: Int, type: String, sizeBytes: Int64? = nil, lineSizeBytes: Int? = nil, ways: Int? = nil, instances: Int, cpusPerInstance: Int) {
            self.level = level
            self.type = type
            self.sizeBytes = sizeBytes
            self.lineSizeBytes = lineSizeBytes
            self.ways = ways
            self.instances = instances
            self.cpusPerInstance = cpusPerInstance
        }
    }

    public struct NUMANode: Codable, Equatable, Sendable {
        public var id: Int
        public var cpus: String

        public init(id: Int, cpus: String) {
            self.id = id
            self.cpus = cpus
        }
    }
}

extension CPUSection {
    public static var listIdentities: [String: String] { ["coreTypes": "cpus", "numaNodes": "id"] }

    public var summary: String {
        [modelName ?? vendor, "\(logicalCPUs) logical CPUs", architectureFamily].compactMap { $0 }.joined(separator: ", ")
    }
}
