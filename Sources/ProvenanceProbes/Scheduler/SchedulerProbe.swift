import ProvenanceCore
import ProvenanceProbeKit

/// The batch job or pod the process runs in: Slurm, PBS/Torque, LSF, Kubernetes.
///
/// Reads the process environment (`SLURM_*`, `SLURMD_NODENAME`, `PBS_*`, `NCPUS`, `LSB_*`,
/// `KUBERNETES_SERVICE_HOST`), the PBS node file `$PBS_NODEFILE`, the pod's namespace
/// `/var/run/secrets/kubernetes.io/serviceaccount/namespace` (never the token beside it), and
/// the downward-API files `labels` and `annotations` in `$PROVENANCE_PODINFO_DIR` (default
/// `/etc/podinfo`). Runs nothing.
///
/// What a job asks for and where it runs stably (cluster, partition, queue, tasks, CPUs and GPUs
/// per task, memory, namespace, labels) is `data`; what changes from one job to the next on the
/// same environment (job and step ids, array indices, job names, node lists, the node and rank of
/// this process, annotations) is `volatile`, so two jobs of the same kind on the same machine
/// share one fingerprint. The section is `absent` when no scheduler shows.
public struct SchedulerProbe: Probe {
    public init() {}

    static let namespacePath = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "scheduler", version: "1.0.0",
            summary: "Batch job or pod: Slurm (cluster, partition, tasks, CPUs/GPUs per task; job id, step, nodes as volatile), PBS/Torque, LSF, Kubernetes namespace and labels",
            reads: ["environment: SLURM_*, SLURMD_NODENAME, PBS_*, NCPUS, LSB_*, KUBERNETES_SERVICE_HOST, PROVENANCE_PODINFO_DIR",
                    "$PBS_NODEFILE", SchedulerProbe.namespacePath + " (never the token)",
                    "$PROVENANCE_PODINFO_DIR/{labels,annotations} (default /etc/podinfo)"])
    }

    public typealias Output = SchedulerSection
    public typealias Slurm = SchedulerSection.Slurm
    public typealias PBS = SchedulerSection.PBS
    public typealias LSF = SchedulerSection.LSF
    public typealias Kubernetes = SchedulerSection.Kubernetes

    /// Labels that differ between pods of the same workload: kept in `volatile`.
    static let identityLabels: Set<String> = [
        "pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index", "controller-uid", "batch.kubernetes.io/controller-uid", "job-name",
        "batch.kubernetes.io/job-name", "batch.kubernetes.io/job-completion-index",
    ]

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        var output = Output()
        var volatile: [String: JSONValue] = [:]
        let environment = context.environment
        func value(_ names: String...) -> String? {
            for name in names { if let text = environment[name], !text.trimmed.isEmpty { return text.trimmed } }
            return nil
        }
        func integer(_ source: String, _ text: String?) -> Int64? {
            guard let text else { return nil }
            guard let number = Int64(text), number >= 0 else {
                report.issue("environment \(source)", "not a count: '\(text.prefix(40))'")
                return nil
            }
            return number
        }
        func record(_ into: inout [String: JSONValue], _ key: String, _ text: String?) {
            // Job names, accounts and comments are free text a user may put a credential in.
            if let text { into[key] = .string(Secrets.maskValue(text, name: key)) }
        }

        // Slurm: sbatch/salloc/srun set SLURM_JOB_ID in the job's environment.
        if let jobID = value("SLURM_JOB_ID", "SLURM_JOBID") {
            var slurm = Slurm()
            slurm.cluster = value("SLURM_CLUSTER_NAME")
            slurm.partition = value("SLURM_JOB_PARTITION")
            slurm.qos = value("SLURM_JOB_QOS")
            slurm.nodes = integer("SLURM_JOB_NUM_NODES", value("SLURM_JOB_NUM_NODES", "SLURM_NNODES"))
            slurm.tasks = integer("SLURM_NTASKS", value("SLURM_NTASKS", "SLURM_NPROCS"))
            slurm.tasksPerNode = value("SLURM_TASKS_PER_NODE")
            slurm.cpusPerTask = integer("SLURM_CPUS_PER_TASK", value("SLURM_CPUS_PER_TASK"))
            slurm.gpus = value("SLURM_GPUS")
            slurm.gpusPerTask = value("SLURM_GPUS_PER_TASK")
            slurm.gpusPerNode = value("SLURM_GPUS_PER_NODE")
            for (name, path) in [("SLURM_MEM_PER_NODE", \Slurm.memPerNodeBytes), ("SLURM_MEM_PER_CPU", \Slurm.memPerCPUBytes),
                                 ("SLURM_MEM_PER_GPU", \Slurm.memPerGPUBytes)] {
                guard let text = value(name) else { continue }
                if let bytes = parseSlurmMemory(text) {
                    slurm[keyPath: path] = bytes
                } else {
                    report.issue("environment \(name)", "not a memory amount: '\(text.prefix(40))'")
                }
            }
            output.slurm = slurm

            var job: [String: JSONValue] = ["jobId": .string(jobID)]
            record(&job, "arrayJobId", value("SLURM_ARRAY_JOB_ID"))
            record(&job, "arrayTaskId", value("SLURM_ARRAY_TASK_ID"))
            record(&job, "stepId", value("SLURM_STEP_ID", "SLURM_STEPID"))
            record(&job, "jobName", value("SLURM_JOB_NAME"))
            record(&job, "account", value("SLURM_JOB_ACCOUNT"))
            record(&job, "nodeList", value("SLURM_JOB_NODELIST", "SLURM_NODELIST"))
            record(&job, "nodeName", value("SLURMD_NODENAME"))
            record(&job, "procId", value("SLURM_PROCID"))
            record(&job, "localId", value("SLURM_LOCALID"))
            record(&job, "nodeId", value("SLURM_NODEID"))
            record(&job, "cpusOnNode", value("SLURM_CPUS_ON_NODE"))
            record(&job, "jobCpusPerNode", value("SLURM_JOB_CPUS_PER_NODE"))
            record(&job, "gpusOnNode", value("SLURM_GPUS_ON_NODE"))
            record(&job, "jobGpus", value("SLURM_JOB_GPUS"))
            record(&job, "stepGpus", value("SLURM_STEP_GPUS"))
            volatile["slurm"] = .object(job)
        }

        // PBS Pro / Torque / OpenPBS: PBS_JOBID in the job's environment.
        if let jobID = value("PBS_JOBID") {
            var pbs = PBS()
            pbs.queue = value("PBS_QUEUE")
            pbs.server = value("PBS_SERVER")
            switch value("PBS_ENVIRONMENT") {
            case "PBS_BATCH": pbs.mode = "batch"
            case "PBS_INTERACTIVE": pbs.mode = "interactive"
            default: break
            }
            pbs.processorsPerNode = integer("PBS_NUM_PPN", value("PBS_NUM_PPN"))
            pbs.ncpus = integer("NCPUS", value("NCPUS"))
            var job: [String: JSONValue] = ["jobId": .string(jobID)]
            record(&job, "jobName", value("PBS_JOBNAME"))
            record(&job, "arrayIndex", value("PBS_ARRAY_INDEX", "PBS_ARRAYID"))
            record(&job, "submitHost", value("PBS_O_HOST"))
            record(&job, "taskNumber", value("PBS_TASKNUM"))
            record(&job, "nodeNumber", value("PBS_NODENUM"))
            if let nodeFile = value("PBS_NODEFILE") {
                if nodeFile.hasPrefix("/") {
                    do {
                        if let text = try context.fs.read(nodeFile) {
                            let parsed = parseHostSlots(text.lines)
                            pbs.nodes = Int64(parsed.hosts.count)
                            pbs.slots = Int64(parsed.slots)
                            job["nodeList"] = .array(parsed.hosts.map { .string($0) })
                        } else {
                            report.issue(nodeFile, "PBS_NODEFILE names a file that does not exist")
                        }
                    } catch {
                        report.issue(nodeFile, error.message)
                    }
                } else {
                    report.issue("environment PBS_NODEFILE", "not an absolute path: '\(nodeFile.prefix(80))'")
                }
            }
            pbs.nodes = pbs.nodes ?? integer("PBS_NUM_NODES", value("PBS_NUM_NODES"))
            pbs.slots = pbs.slots ?? integer("PBS_NP", value("PBS_NP"))
            output.pbs = pbs
            volatile["pbs"] = .object(job)
        }

        // IBM Spectrum LSF: LSB_JOBID.
        if let jobID = value("LSB_JOBID") {
            var lsf = LSF()
            lsf.queue = value("LSB_QUEUE")
            var job: [String: JSONValue] = ["jobId": .string(jobID)]
            record(&job, "jobName", value("LSB_JOBNAME"))
            record(&job, "jobIndex", value("LSB_JOBINDEX"))
            var hosts: [String]?
            if let multi = value("LSB_MCPU_HOSTS") {
                if let parsed = parseLSFMultiCPUHosts(multi) {
                    hosts = parsed.hosts
                    lsf.slots = Int64(parsed.slots)
                } else {
                    report.issue("environment LSB_MCPU_HOSTS", "not 'host count' pairs: '\(multi.prefix(80))'")
                }
            }
            if hosts == nil, let list = value("LSB_HOSTS") {
                let parsed = parseHostSlots(list.split(separator: " "))
                hosts = parsed.hosts
                lsf.slots = Int64(parsed.slots)
            }
            if let slots = integer("LSB_DJOB_NUMPROC", value("LSB_DJOB_NUMPROC")) { lsf.slots = slots }
            if let hosts {
                lsf.hosts = Int64(hosts.count)
                job["hosts"] = .array(hosts.map { .string($0) })
            }
            output.lsf = lsf
            volatile["lsf"] = .object(job)
        }

        // Kubernetes: the API service variables, the service-account namespace, downward-API files.
        var kubernetes = Kubernetes()
        var podVolatile: [String: JSONValue] = [:]
        var inPod = value("KUBERNETES_SERVICE_HOST") != nil
        // Only the namespace file: the token beside it is a credential and is never opened.
        if let text = context.fs.read(Self.namespacePath, reportingTo: report) {
            inPod = true
            kubernetes.namespace = nonEmpty(text)
        }
        let podinfo = value("PROVENANCE_PODINFO_DIR") ?? "/etc/podinfo"
        if podinfo.hasPrefix("/") {
            for file in ["labels", "annotations"] {
                let path = (podinfo.hasSuffix("/") ? String(podinfo.dropLast()) : podinfo) + "/" + file
                guard let text = context.fs.read(path, reportingTo: report) else { continue }
                inPod = true
                let parsed = parseDownwardAPIFile(text)
                for problem in parsed.problems.prefix(3) { report.issue(path, problem) }
                if file == "labels" {
                    var stable: [String: String] = [:]
                    var identity: [String: JSONValue] = [:]
                    for (key, label) in parsed.fields {
                        let masked = Secrets.maskValue(label, name: key)
                        context.fs.noteMasked(raw: label, masked: masked)
                        if Self.identityLabels.contains(key) { identity[key] = .string(masked) } else { stable[key] = masked }
                    }
                    kubernetes.labels = stable.isEmpty ? nil : stable
                    if !identity.isEmpty { podVolatile["labels"] = .object(identity) }
                } else {
                    var annotations: [String: JSONValue] = [:]
                    for (key, annotation) in parsed.fields
                    where key != "kubectl.kubernetes.io/last-applied-configuration" {
                        let masked = Secrets.maskValue(annotation, name: key)
                        context.fs.noteMasked(raw: annotation, masked: masked)
                        annotations[key] = .string(masked)
                    }
                    if !annotations.isEmpty { podVolatile["annotations"] = .object(annotations) }
                }
            }
        } else {
            report.issue("environment PROVENANCE_PODINFO_DIR", "not an absolute path: '\(podinfo.prefix(80))'")
        }
        if inPod {
            output.kubernetes = kubernetes
            if !podVolatile.isEmpty { volatile["kubernetes"] = .object(podVolatile) }
        }

        guard output.slurm != nil || output.pbs != nil || output.lsf != nil || output.kubernetes != nil else {
            throw ProbeAbsent(source: "scheduler",
                              reason: "no batch job or pod: no SLURM_JOB_ID, PBS_JOBID, LSB_JOBID or KUBERNETES_SERVICE_HOST "
                                  + "in the environment, no service-account namespace, no downward-API labels")
        }
        report.volatile = volatile.isEmpty ? nil : .object(volatile)
        return output
    }
}
