public struct MemorySection: SectionModel {
    public static let sectionID = "memory"

    public var memTotalBytes: Int64?
    public var swapTotalBytes: Int64?
    /// The default huge page pool (`HugePages_Total` of `Hugepagesize`).
    public var hugePages: HugePages?
    /// Every huge page pool from sysfs, by page size.
    public var hugePagePools: [HugePagePool]?
    /// The selected mode of `/sys/kernel/mm/transparent_hugepage/enabled` (`always`, `madvise`, `never`).
    public var transparentHugePages: String?
    public var numaNodes: [NUMANodeMemory]?

    public init(memTotalBytes: Int64? = nil, swapTotalBytes: Int64? = nil, hugePages: HugePages? = nil, hugePagePools: [HugePagePool]? = nil, transparentHugePages: String? = nil, numaNodes: [NUMANodeMemory]? = nil) {
        self.memTotalBytes = memTotalBytes
        self.swapTotalBytes = swapTotalBytes
        self.hugePages = hugePages
        self.hugePagePools = hugePagePools
        self.transparentHugePages = transparentHugePages
        self.numaNodes = numaNodes
    }

    public struct HugePages: Codable, Equatable, Sendable {
        public var total: Int64
        public var pageSizeBytes: Int64?

        public init(total: Int64, pageSizeBytes: Int64? = nil) {
            self.total = total
            self.pageSizeBytes = pageSizeBytes
        }
    }

    public struct HugePagePool: Codable, Equatable, Sendable {
        public var pageSizeBytes: Int64
        public var pages: Int64

        public init(pageSizeBytes: Int64, pages: Int64) {
            self.pageSizeBytes = pageSizeBytes
            self.pages = pages
        }
    }

    public struct NUMANodeMemory: Codable, Equatable, Sendable {
        public var id: Int
        public var hugePagesTotal: Int64?

        public init(id: Int, hugePagesTotal: Int64? = nil) {
            self.id = id
            self.hugePagesTotal = hugePagesTotal
        }
    }
}

extension MemorySection {
    public static var listIdentities: [String: String] { ["hugePagePools": "pageSizeBytes", "numaNodes": "id"] }

    public var summary: String {
        memTotalBytes.map { "\($0 / 1_048_576) MiB" } ?? "memory size unknown"
    }
}
