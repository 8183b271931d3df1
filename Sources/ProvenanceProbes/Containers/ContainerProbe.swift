import ProvenanceCore
import ProvenanceProbeKit

/// The container the process runs in: engine, image, the signals that showed it, cgroup limits.
///
/// Reads `/proc/self/cgroup`, `/proc/self/mountinfo`, `/run/.containerenv`, `/run/systemd/container`,
/// `/.singularity.d/labels.json`, `/.dockerenv`, the cgroup limit files (v2 `cpu.max`,
/// `memory.max`, `cpuset.cpus.effective`; v1 `cpu.cfs_quota_us`, `cpu.cfs_period_us`,
/// `memory.limit_in_bytes`, `cpuset.effective_cpus`) of the process's cgroup and its ancestors,
/// and from the environment `container`, `APPTAINER_*`/`SINGULARITY_*`, `KUBERNETES_SERVICE_HOST`
/// and `PROVENANCE_IMAGE_DIGEST` (a launcher's statement of the image digest, which no engine
/// shows inside the container). Runs nothing.
///
/// The section is `absent` when no signal shows a container. `/.dockerenv` alone is not a signal:
/// it exists on hosts that are not containers (a Firecracker VM built from a docker image); it
/// names the engine only when something else shows a container. Container id, container name and
/// pod UID are identity (new with every run), so they go to `volatile`; the engine, the image and
/// the limits are the environment and go to `data`.
public struct ContainerProbe: Probe {
    public init() {}

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "container", version: "1.0.0",
            summary: "Container engine (docker, podman, containerd/CRI-O on Kubernetes, LXC, apptainer/singularity), image name, id and digest, the signals that showed it, cgroup CPU and memory limits",
            reads: ["/proc/self/cgroup", "/proc/self/mountinfo", "/run/.containerenv", "/run/systemd/container",
                    "/.singularity.d/labels.json", "/.dockerenv",
                    "/sys/fs/cgroup/**/{cpu.max,memory.max,cpuset.cpus.effective}",
                    "/sys/fs/cgroup/{cpu,memory,cpuset}/**/{cpu.cfs_quota_us,cpu.cfs_period_us,memory.limit_in_bytes,cpuset.effective_cpus,cpuset.cpus}",
                    "environment: container, APPTAINER_*, SINGULARITY_*, KUBERNETES_SERVICE_HOST, PROVENANCE_IMAGE_DIGEST"])
    }

    public typealias Output = ContainerSection
    public typealias Evidence = ContainerSection.Evidence
    public typealias CgroupLimits = ContainerSection.CgroupLimits

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let fs = context.fs
        let environment = context.environment
        var signals: [ContainerSignal] = []
        var output = Output(evidence: [])
        var volatile: [String: JSONValue] = [:]

        // 1. Statements by the engine: /run/.containerenv (podman; full when --privileged).
        var containerEnvExists: ContainerSignal?
        if let text = fs.read("/run/.containerenv", reportingTo: report) {
            let fields = parseContainerEnv(text)
            var engine: String?
            if let stated = fields["engine"], !stated.isEmpty {
                let (name, version) = splitEngineVersion(stated)
                engine = name
                output.engineVersion = version
            }
            let signal = ContainerSignal(source: "/run/.containerenv",
                                         signal: fields.isEmpty ? "exists" : "engine, id and image stated",
                                         engine: engine ?? "podman", containerID: nonEmpty(fields["id"]))
            // An empty file (podman without --privileged; CRI-O) weighs less than the cgroup paths.
            if fields.isEmpty { containerEnvExists = signal } else { signals.append(signal) }
            output.imageName = nonEmpty(fields["image"])
            output.imageId = nonEmpty(fields["imageid"])
            if let name = nonEmpty(fields["name"]) { volatile["containerName"] = .string(name) }
            if let rootless = fields["rootless"] { output.rootless = rootless == "1" || rootless == "true" }
        }

        // 2. The environment: container= (podman, systemd-nspawn, LXC's init), apptainer's variables.
        if let value = environment["container"], !value.isEmpty {
            signals.append(ContainerSignal(source: "environment", signal: "container=\(sanitizedWord(value))",
                                           engine: containerEngine(fromContainerVariable: value)))
        }
        if let value = fs.attribute("/run/systemd/container") {
            signals.append(ContainerSignal(source: "/run/systemd/container", signal: sanitizedWord(value),
                                           engine: containerEngine(fromContainerVariable: value)))
        }
        collectApptainer(context, report, &signals, &output)
        if let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty {
            signals.append(ContainerSignal(source: "environment", signal: "KUBERNETES_SERVICE_HOST",
                                           orchestrator: "kubernetes"))
        }

        // 3. What the kernel shows: cgroup paths and mounts.
        var memberships: [CgroupMembership] = []
        if let text = fs.read("/proc/self/cgroup", reportingTo: report) {
            let parsed = parseProcCgroup(text)
            memberships = parsed.entries
            for problem in parsed.problems.prefix(3) { report.issue("/proc/self/cgroup", problem) }
            signals += containerSignals(cgroup: memberships)
        }
        var mounts: [MountInfo]?
        if let text = fs.read("/proc/self/mountinfo", reportingTo: report) {
            let parsed = parseMountinfo(text)
            mounts = parsed.mounts
            for problem in parsed.problems.prefix(3) { report.issue("/proc/self/mountinfo", problem) }
            signals += containerSignals(mountinfo: parsed.mounts)
        }

        if let containerEnvExists { signals.append(containerEnvExists) }

        // 4. A launcher's statement of the image digest.
        var launcherDigest: String?
        if let digest = environment["PROVENANCE_IMAGE_DIGEST"]?.trimmed, !digest.isEmpty {
            if isImageDigest(digest) {
                launcherDigest = digest
            } else {
                report.issue("environment PROVENANCE_IMAGE_DIGEST",
                             "not an image digest (algorithm:hex, e.g. sha256:<64 hex>): '\(digest.prefix(80))'")
            }
        }

        let decisive = signals.filter(\.decisive)
        guard !decisive.isEmpty || launcherDigest != nil else {
            var reason = "not in a container: no engine path in /proc/self/cgroup or /proc/self/mountinfo, "
                + "no /run/.containerenv, no container= or apptainer variable in the environment"
            if fs.exists("/.dockerenv") { reason += "; /.dockerenv exists but does not show a container on its own" }
            throw ProbeAbsent(source: "container", reason: reason)
        }
        if fs.exists("/.dockerenv") {
            signals.append(ContainerSignal(source: "/.dockerenv", signal: "exists", engine: "docker", decisive: false))
        }
        signals = deduplicated(signals)

        output.engine = signals.first { $0.engine != nil }?.engine
        output.orchestrator = signals.first { $0.orchestrator != nil }?.orchestrator
        if let id = signals.first(where: { $0.containerID != nil && $0.engine != "lxc" })?.containerID {
            volatile["containerId"] = .string(id)
        }
        if volatile["containerName"] == nil, let name = signals.first(where: { $0.engine == "lxc" })?.containerID {
            volatile["containerName"] = .string(name)
        }
        if let uid = signals.first(where: { $0.podUID != nil })?.podUID { volatile["podUID"] = .string(uid) }
        output.evidence = signals.map {
            Evidence(source: $0.source, signal: $0.signal, engine: $0.engine, decisive: $0.decisive)
        }
        if let launcherDigest {
            output.imageDigest = launcherDigest
            output.imageDigestSource = "environment PROVENANCE_IMAGE_DIGEST"
        }

        output.cgroup = readCgroupLimits(fs, memberships: memberships, mounts: mounts, report: report)
        report.volatile = volatile.isEmpty ? nil : .object(volatile)
        return output
    }

    /// Apptainer/singularity: `APPTAINER_CONTAINER`/`SINGULARITY_CONTAINER` (the image path),
    /// `APPTAINER_NAME`/`SINGULARITY_NAME` (its file name), `/.singularity.d/labels.json`.
    func collectApptainer(_ context: ProbeContext, _ report: ProbeReport, _ signals: inout [ContainerSignal],
                          _ output: inout Output)
    {
        let environment = context.environment
        var engine: String?
        for prefix in ["APPTAINER", "SINGULARITY"] where environment["\(prefix)_CONTAINER"].map({ !$0.isEmpty }) == true {
            engine = engine ?? prefix.lowercased()
            signals.append(ContainerSignal(source: "environment", signal: "\(prefix)_CONTAINER", engine: prefix.lowercased()))
        }
        let labelsPath = "/.singularity.d/labels.json"
        var labels: [String: String]?
        do {
            if let bytes = try context.fs.readBytes(labelsPath) {
                let value = try JSONParser.parse(bytes)
                if let object = value.objectValue {
                    var strings: [String: String] = [:]
                    for (key, member) in object {
                        if case .string(let text) = member {
                            strings[key] = Secrets.maskValue(text, name: key)
                            context.fs.noteMasked(raw: text, masked: strings[key]!)
                        }
                    }
                    labels = strings
                } else {
                    report.issue(labelsPath, "not a JSON object")
                }
            }
        } catch let error as FileSystemError {
            report.issue(labelsPath, error.message)
        } catch {
            report.issue(labelsPath, "\(error)")
        }
        if labels != nil || context.fs.isDirectory("/.singularity.d") {
            let stated = labels.flatMap { labels -> String? in
                if labels.keys.contains(where: { $0.contains(".apptainer.") }) { return "apptainer" }
                if labels.keys.contains(where: { $0.contains(".singularity.") }) { return "singularity" }
                return nil
            }
            signals.append(ContainerSignal(source: labels != nil ? labelsPath : "/.singularity.d", signal: "exists",
                                           engine: engine ?? stated ?? "apptainer"))
        }
        if let labels, !labels.isEmpty { output.labels = labels }
        if engine != nil || labels != nil {
            output.imageName = output.imageName
                ?? nonEmpty(environment["APPTAINER_NAME"]) ?? nonEmpty(environment["SINGULARITY_NAME"])
        }
    }

    /// CPU, memory and cpuset limits of the process's cgroups. Each controller's directory is
    /// found through mountinfo (mount point and the cgroup path at its root), else under the
    /// usual `/sys/fs/cgroup` layout; the tightest limit of the directory and its ancestors up
    /// to the mount point counts.
    func readCgroupLimits(_ fs: RootedFileSystem, memberships: [CgroupMembership], mounts: [MountInfo]?,
                          report: ProbeReport) -> CgroupLimits?
    {
        let v2Mounts = (mounts ?? []).filter { $0.fsType == "cgroup2" }
        let v1Mounts = (mounts ?? []).filter { $0.fsType == "cgroup" }
        var limits = CgroupLimits()
        if mounts != nil {
            limits.hierarchy = v1Mounts.isEmpty ? (v2Mounts.isEmpty ? nil : "v2") : (v2Mounts.isEmpty ? "v1" : "hybrid")
        } else if !memberships.isEmpty {
            let hasV1 = memberships.contains { !$0.isUnified }
            let hasV2 = memberships.contains(where: \.isUnified)
            limits.hierarchy = hasV1 ? (hasV2 ? "hybrid" : "v1") : "v2"
        }

        let unifiedPath = memberships.first(where: \.isUnified)?.path
        func v1Path(_ controller: String) -> String? {
            memberships.first { $0.controllers.contains(controller) }?.path
        }

        /// Directories from the process's cgroup up to the mount point of a hierarchy.
        func chain(mountPoint: String, mountRoot: String, path: String?) -> [String] {
            var relative = ""
            if let path, path != "/" {
                if mountRoot == "/" {
                    relative = path
                } else if path == mountRoot {
                    relative = ""
                } else if path.hasPrefix(mountRoot + "/") {
                    relative = String(path.dropFirst(mountRoot.count))
                }
            }
            var directory = mountPoint + relative
            if !fs.isDirectory(directory) { directory = mountPoint }
            var directories = [directory]
            while directory.count > mountPoint.count, let slash = directory.lastIndex(of: "/") {
                directory = String(directory[..<slash])
                if directory.count < mountPoint.count { break }
                directories.append(directory)
            }
            return directories
        }

        func v2Chains() -> [[String]] {
            if !v2Mounts.isEmpty {
                return v2Mounts.map { chain(mountPoint: $0.mountPoint, mountRoot: $0.root, path: unifiedPath) }
            }
            guard mounts == nil else { return [] }
            return ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].filter { fs.exists($0 + "/cgroup.controllers") }
                .map { chain(mountPoint: $0, mountRoot: "/", path: unifiedPath) }
        }

        func v1Chains(_ controller: String) -> [[String]] {
            let matching = v1Mounts.filter { $0.superOptions.split(separator: ",").contains(Substring(controller)) }
            if !matching.isEmpty {
                return matching.map { chain(mountPoint: $0.mountPoint, mountRoot: $0.root, path: v1Path(controller)) }
            }
            guard mounts == nil else { return [] }
            let names = controller == "cpu" ? ["cpu", "cpu,cpuacct", "cpuacct,cpu"] : [controller]
            return names.map { "/sys/fs/cgroup/\($0)" }.filter { fs.isDirectory($0) }.prefix(1)
                .map { chain(mountPoint: $0, mountRoot: "/", path: v1Path(controller)) }
        }

        let unifiedChains = v2Chains()
        let cpuChains = v1Chains("cpu")
        let memoryChains = v1Chains("memory")
        let cpusetChains = v1Chains("cpuset")

        // CPU: cgroup v2 cpu.max, else v1 CFS quota and period.
        var best: (quota: Int64, period: Int64)?
        func consider(quota: Int64, period: Int64) {
            if let current = best, milliCPUs(quotaMicros: current.quota, periodMicros: current.period)
                <= milliCPUs(quotaMicros: quota, periodMicros: period) { return }
            best = (quota, period)
        }
        for directories in unifiedChains {
            for directory in directories {
                guard let text = fs.read(directory + "/cpu.max", reportingTo: report) else { continue }
                limits.cpuController = "v2"
                guard let parsed = parseCgroupCPUMax(text) else {
                    report.issue(directory + "/cpu.max", "malformed: '\(text.trimmed.prefix(80))'")
                    continue
                }
                if let quota = parsed.quotaMicros { consider(quota: quota, period: parsed.periodMicros) }
            }
        }
        if limits.cpuController == nil {
            for directories in cpuChains {
                for directory in directories {
                    guard let quotaText = fs.read(directory + "/cpu.cfs_quota_us", reportingTo: report) else { continue }
                    limits.cpuController = "v1"
                    let periodText = fs.read(directory + "/cpu.cfs_period_us", reportingTo: report)
                    guard let quota = Int64(quotaText.trimmed), let period = periodText.flatMap({ Int64($0.trimmed) }),
                          period > 0
                    else {
                        report.issue(directory + "/cpu.cfs_quota_us",
                                     "malformed quota/period: '\(quotaText.trimmed.prefix(40))' / '\(periodText?.trimmed.prefix(40) ?? "missing")'")
                        continue
                    }
                    if quota > 0 { consider(quota: quota, period: period) }
                }
            }
        }
        if let best {
            limits.cpuQuotaMicros = best.quota
            limits.cpuPeriodMicros = best.period
            limits.cpuLimitMilliCPUs = milliCPUs(quotaMicros: best.quota, periodMicros: best.period)
        }

        // Memory: v2 memory.max, else v1 memory.limit_in_bytes.
        var memory: Int64?
        for (controller, file, chains) in [("v2", "memory.max", unifiedChains), ("v1", "memory.limit_in_bytes", memoryChains)]
        where limits.memoryController == nil {
            for directories in chains {
                for directory in directories {
                    guard let text = fs.read(directory + "/" + file, reportingTo: report) else { continue }
                    limits.memoryController = controller
                    guard let parsed = parseCgroupMemoryLimit(text) else {
                        report.issue(directory + "/" + file, "malformed: '\(text.trimmed.prefix(80))'")
                        continue
                    }
                    if let bytes = parsed { memory = min(memory ?? bytes, bytes) }
                }
            }
        }
        limits.memoryLimitBytes = memory

        // cpuset: the CPUs the process may use (the innermost cgroup's effective list).
        search: for (file, chains) in [("cpuset.cpus.effective", unifiedChains), ("cpuset.effective_cpus", cpusetChains),
                                       ("cpuset.cpus", cpusetChains)] {
            for directories in chains {
                if let directory = directories.first, let text = fs.attribute(directory + "/" + file) {
                    limits.cpusetCPUs = text
                    break search
                }
            }
        }

        if limits.cpuController == nil && limits.memoryController == nil {
            report.issue("/sys/fs/cgroup", "no cgroup cpu or memory controller found: limits unknown")
        } else if limits.cpuController == nil {
            report.issue("/sys/fs/cgroup", "no cgroup cpu controller found: CPU limit unknown")
        } else if limits.memoryController == nil {
            report.issue("/sys/fs/cgroup", "no cgroup memory controller found: memory limit unknown")
        }
        return limits == CgroupLimits() ? nil : limits
    }
}

/// `podman-4.3.1` → (`podman`, `4.3.1`); a value without a version comes back whole.
func splitEngineVersion(_ value: String) -> (name: String, version: String?) {
    if let dash = value.lastIndex(of: "-"), value.index(after: dash) < value.endIndex,
       value[value.index(after: dash)].isNumber
    {
        return (String(value[..<dash]).lowercased(), String(value[value.index(after: dash)...]))
    }
    return (value.lowercased(), nil)
}

/// One short word of an untrusted file or variable, safe to quote in evidence.
func sanitizedWord(_ value: String) -> String {
    String(value.trimmed.prefix(64).map { $0.isASCII && !$0.isWhitespace && $0 != "\"" ? $0 : "?" })
}
