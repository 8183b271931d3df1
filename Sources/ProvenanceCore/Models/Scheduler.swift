public struct SchedulerSection: SectionModel {
    public static let sectionID = "scheduler"

    public var slurm: Slurm?
    public var pbs: PBS?
    public var lsf: LSF?
    public var kubernetes: Kubernetes?

    public init(slurm: Slurm? = nil, pbs: PBS? = nil, lsf: LSF? = nil, kubernetes: Kubernetes? = nil) {
        self.slurm = slurm
        self.pbs = pbs
        self.lsf = lsf
        self.kubernetes = kubernetes
    }

    public struct Slurm: Codable, Equatable, Sendable {
        public var cluster: String?
        public var partition: String?
        public var qos: String?
        public var nodes: Int64?
        public var tasks: Int64?
        /// `SLURM_TASKS_PER_NODE` as Slurm writes it (`2(x3),1`).
        public var tasksPerNode: String?
        public var cpusPerTask: Int64?
        /// `SLURM_GPUS`, `SLURM_GPUS_PER_TASK`, `SLURM_GPUS_PER_NODE` as requested (`2`, `a100:1`).
        public var gpus: String?
        public var gpusPerTask: String?
        public var gpusPerNode: String?
        public var memPerNodeBytes: Int64?
        public var memPerCPUBytes: Int64?
        public var memPerGPUBytes: Int64?

        public init(cluster: String? = nil, partition: String? = nil, qos: String? = nil, nodes: Int64? = nil, tasks: Int64? = nil, tasksPerNode: String? = nil, cpusPerTask: Int64? = nil, gpus: String? = nil, gpusPerTask: String? = nil, gpusPerNode: String? = nil, memPerNodeBytes: Int64? = nil, memPerCPUBytes: Int64? = nil, memPerGPUBytes: Int64? = nil) {
            self.cluster = cluster
            self.partition = partition
            self.qos = qos
            self.nodes = nodes
            self.tasks = tasks
            self.tasksPerNode = tasksPerNode
            self.cpusPerTask = cpusPerTask
            self.gpus = gpus
            self.gpusPerTask = gpusPerTask
            self.gpusPerNode = gpusPerNode
            self.memPerNodeBytes = memPerNodeBytes
            self.memPerCPUBytes = memPerCPUBytes
            self.memPerGPUBytes = memPerGPUBytes
        }
    }

    public struct PBS: Codable, Equatable, Sendable {
        public var queue: String?
        public var server: String?
        /// `batch` or `interactive` (`PBS_ENVIRONMENT`).
        public var mode: String?
        /// Distinct hosts in `$PBS_NODEFILE` (else `PBS_NUM_NODES`).
        public var nodes: Int64?
        /// Lines of `$PBS_NODEFILE` (else `PBS_NP`).
        public var slots: Int64?
        public var processorsPerNode: Int64?
        public var ncpus: Int64?

        public init(queue: String? = nil, server: String? = nil, mode: String? = nil, nodes: Int64? = nil, slots: Int64? = nil, processorsPerNode: Int64? = nil, ncpus: Int64? = nil) {
            self.queue = queue
            self.server = server
            self.mode = mode
            self.nodes = nodes
            self.slots = slots
            self.processorsPerNode = processorsPerNode
            self.ncpus = ncpus
        }
    }

    public struct LSF: Codable, Equatable, Sendable {
        public var queue: String?
        public var hosts: Int64?
        public var slots: Int64?

        public init(queue: String? = nil, hosts: Int64? = nil, slots: Int64? = nil) {
            self.queue = queue
            self.hosts = hosts
            self.slots = slots
        }
    }

    public struct Kubernetes: Codable, Equatable, Sendable {
        public var namespace: String?
        /// Downward-API labels, less the ones that name one pod or one rollout (`pod-template-hash`…).
        public var labels: [String: String]?

        public init(namespace: String? = nil, labels: [String: String]? = nil) {
            self.namespace = namespace
            self.labels = labels
        }
    }
}

extension SchedulerSection {
    public var summary: String {
        [slurm.map { _ in "Slurm job" }, pbs.map { _ in "PBS job" }, lsf.map { _ in "LSF job" },
         kubernetes.map { _ in "Kubernetes pod" }].compactMap { $0 }.joined(separator: ", ").nonEmptyOr("no scheduler")
    }
}
