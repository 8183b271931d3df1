import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#endif

/// A recorded machine built at test time under /tmp (files written, never under Fixtures/),
/// removed when the test lets go of it.
final class ScratchMachine {
    let root: String

    init(_ label: String) {
        root = "/tmp/provenance-\(label)-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
        mkdir(root, 0o755)
    }

    deinit { Self.remove(root) }

    /// Removes a directory tree without following symbolic links.
    static func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? RootedFileSystem(root: path).list("/")) ?? [] { remove(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    func write(_ path: String, _ text: String) throws {
        try AtomicFile.write(Array(text.utf8), to: root + path)
    }

    func write(_ path: String, bytes: [UInt8]) throws {
        try AtomicFile.write(bytes, to: root + path)
    }

    /// Copies a file of a recorded machine in Fixtures/machines.
    func copy(_ path: String, from machine: String, to target: String? = nil) throws {
        let bytes = try #require(try RootedFileSystem(root: Project.machines + "/" + machine).readBytes(path))
        try write(target ?? path, bytes: bytes)
    }

    func environment(_ variables: [String: String]) throws {
        let entries = variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        try write("/proc/self/environ", bytes: Array(entries.joined(separator: "\0").utf8) + [0])
    }

    func collect<P: Probe>(_ probe: P) throws -> Section {
        let machine = try Machine.recorded(root: root, clock: FixedClock(secondsSinceEpoch: 0))
        let context = ProbeContext(machine: machine, commandTimeout: 5, deadline: monotonicSeconds() + 5)
        return Capture.collect(probe, context)
    }
}

func optional(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }

/// Every recorded container (and host) machine gives the engine, id, image and limits read off
/// its files by hand (Fixtures/expected/container.tsv).
@Suite("Container probe on recorded machines")
struct RecordedContainerProbeTests {
    static let expected = ExpectedTable("container")

    @Test("engine, container id, image and cgroup limits", arguments: expected.fixtures)
    func facts(fixture: String) throws {
        let row = Self.expected.row(fixture)
        let section = try collect(ContainerProbe(), onMachine: fixture)
        if row["containerized"] == "no" {
            #expect(section.status == .absent, "\(section.issues)")
            #expect(section.data == nil && section.volatile == nil)
            return
        }
        #expect(section.status == .ok || section.status == .partial, "\(section.issues)")
        let data = try #require(section.data)
        #expect(data["engine"]?.stringValue == optional(row["engine"]))
        #expect(section.volatile?["containerId"]?.stringValue == optional(row["container_id"]))
        #expect(data["imageId"]?.stringValue == optional(row["image_id"]))
        #expect(data["imageDigest"]?.stringValue == optional(row["image_digest"]))
        let cgroup = data["cgroup"]
        #expect(cgroup?["cpuLimitMilliCPUs"]?.intValue == Int64(row["cpu_limit_millicpus"] ?? ""))
        #expect(cgroup?["memoryLimitBytes"]?.intValue == Int64(row["memory_limit_bytes"] ?? ""))
        #expect(cgroup?["cpusetCPUs"]?.stringValue == optional(row["cpuset_cpus"]))
        let evidence = data["evidence"]?.arrayValue ?? []
        #expect(!evidence.isEmpty)
        // The container id is identity: it is in `volatile`, never in the fingerprinted data.
        if let id = optional(row["container_id"]) {
            #expect(!String(decoding: CanonicalJSON.serialize(data), as: UTF8.self).contains(id))
        }
    }

    @Test("every recorded machine with a cgroup, mountinfo or container file has expected facts")
    func coverage() {
        let covered = Set(Self.expected.fixtures)
        for name in Project.machineNames {
            let fs = RootedFileSystem(root: Project.machines + "/" + name)
            let relevant = name.hasPrefix("container-")
                || ["/proc/self/cgroup", "/proc/self/mountinfo", "/run/.containerenv", "/.dockerenv"].contains(where: fs.exists)
            if relevant { #expect(covered.contains(name), "\(name) has no row in Fixtures/expected/container.tsv") }
        }
    }

    @Test("the limits are read from the container's own cgroup (v1, mount root = the container's cgroup)")
    func limitsDetail() throws {
        let data = try #require(try collect(ContainerProbe(), onMachine: "container-podman-4.3-privileged-limits").data)
        #expect(data["cgroup"] == [
            "hierarchy": "v1", "cpuController": "v1", "cpuQuotaMicros": 150_000, "cpuPeriodMicros": 100_000,
            "cpuLimitMilliCPUs": 1500, "memoryController": "v1", "memoryLimitBytes": 268_435_456, "cpusetCPUs": "0-1",
        ])
        #expect(data["engineVersion"] == "4.3.1")
        #expect(data["imageName"] == "localhost/probe-test:1")
        #expect(data["imageDigestSource"] == "environment PROVENANCE_IMAGE_DIGEST")
        #expect(data["rootless"] == false)
    }

    @Test("docker with a private cgroup namespace: the id from mountinfo, the engine from /.dockerenv")
    func dockerPrivateCgroupNamespace() throws {
        let section = try collect(ContainerProbe(), onMachine: "container-docker-20.10-cgroupns-private")
        let evidence = try #require(section.data?["evidence"]?.arrayValue)
        #expect(evidence.contains { $0["source"] == "/.dockerenv" && $0["decisive"] == false })
        #expect(evidence.contains { $0["source"] == "/proc/self/mountinfo" && $0["decisive"] == true })
        // Unlimited: controllers found, no limit set.
        #expect(section.data?["cgroup"]?["cpuController"] == "v1")
        #expect(section.data?["cgroup"]?["cpuLimitMilliCPUs"] == nil)
        #expect(section.data?["cgroup"]?["memoryLimitBytes"] == nil)
    }

    @Test("a Kubernetes pod's cgroup (cgroupfs driver) gives the orchestrator and the pod UID")
    func kubernetesCgroup() throws {
        let section = try collect(ContainerProbe(), onMachine: "container-containerinfo-kubepods-besteffort")
        #expect(section.data?["orchestrator"] == "kubernetes")
        #expect(section.volatile?["podUID"] == "74c13223-5a00-11e9-b385-42010a80018d")
    }

    @Test("two recordings of the same image and engine differ only in volatile identity")
    func identityIsVolatile() throws {
        // Two docker runs of the same image: other container ids, the same engine.
        let a = try collect(ContainerProbe(), onMachine: "container-docker-20.10-limits")
        let b = try collect(ContainerProbe(), onMachine: "container-docker-20.10-cgroupns-private")
        #expect(a.volatile?["containerId"] != b.volatile?["containerId"])
        #expect(a.data?["engine"] == b.data?["engine"])
    }
}

@Suite("Container probe: signals and the secret-free, host-safe rules")
struct ContainerSignalTests {
    @Test("/.dockerenv alone does not make a container (it exists on this project's hosts)")
    func dockerenvAlone() throws {
        let machine = ScratchMachine("dockerenv")
        try machine.write("/.dockerenv", "")
        try machine.copy("/proc/self/mountinfo", from: "container-jenkins-mountinfo-not-containerized")
        try machine.copy("/proc/self/cgroup", from: "host-hwloc-nvidiagpunumanodes")
        let section = try machine.collect(ContainerProbe())
        #expect(section.status == .absent)
        #expect(section.issues.last?.message.contains("/.dockerenv exists but does not show a container") == true)
    }

    @Test("the live host: absent, and /.dockerenv is named as not enough when it exists")
    func liveHost() throws {
        let machine = Machine.live()
        let context = ProbeContext(machine: machine, commandTimeout: 5, deadline: monotonicSeconds() + 5)
        let section = Capture.collect(ContainerProbe(), context)
        // This project's machines are VMs, not containers; a run inside a real container is the
        // podman end-to-end test's business.
        if machine.environment["container"] == nil && !RootedFileSystem().exists("/run/.containerenv") {
            #expect(section.status == .absent, "\(section.issues) \(String(describing: section.data))")
            if RootedFileSystem().exists("/.dockerenv") {
                #expect(section.issues.last?.message.contains("/.dockerenv") == true)
            }
        }
    }

    @Test("elastic/apm's mountinfo spec: a docker container's id from its mounts")
    func elasticMountinfoSpec() throws {
        let spec = try JSONParser.parse(try #require(try RootedFileSystem(root: Project.fixtures)
                .readBytes("/specs/elastic-apm-mounts_parsing.json")))
        let values = try #require(spec["lines"]?.arrayValue)
        let lines = values.compactMap { $0.stringValue }
        let machine = ScratchMachine("elastic-mounts")
        try machine.write("/proc/self/mountinfo", lines.joined(separator: "\n") + "\n")
        let section = try machine.collect(ContainerProbe())
        #expect(section.volatile?["containerId"] == spec["containerId"])
        #expect(section.data?["engine"] == "docker")
    }

    @Test("elastic/apm's cgroup spec: container ids and pod ids of CRI-O, OpenShift docker, ECS; none for a desktop session")
    func elasticCgroupSpec() throws {
        let spec = try JSONParser.parse(try #require(try RootedFileSystem(root: Project.fixtures)
                .readBytes("/specs/elastic-apm-cgroup_parsing.json")))
        let cases = try #require(spec.objectValue)
        #expect(cases.count == 4)
        for (name, testCase) in cases {
            let line = try #require(testCase["groupLine"]?.stringValue)
            let parsed = parseProcCgroup(line)
            #expect(parsed.problems.isEmpty)
            let signals = containerSignals(cgroup: parsed.entries)
            #expect(signals.first(where: { $0.containerID != nil })?.containerID == testCase["containerId"]?.stringValue, "\(name)")
            #expect(signals.first(where: { $0.podUID != nil })?.podUID == testCase["podId"]?.stringValue, "\(name)")
        }
        #expect(containerSignals(cgroup: parseProcCgroup(cases["testUnderscores"]!["groupLine"]!.stringValue!).entries)
            .first?.engine == "cri-o")
    }

    // The LXC and systemd-driver lines below are in the forms lxc(7), LXD and the kubelet document;
    // no recording of them was available.
    @Test("cgroup path forms", arguments: [
        ("0::/lxc.payload.web01/system.slice/nginx.service", "lxc", "web01"),
        ("4:memory:/lxc/build-01", "lxc", "build-01"),
        ("0::/system.slice/docker-9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d.scope", "docker",
         "9ec39b91f3d70e1beff50a308f77067065ea6be0d91a3378375056cd4422cf3d"),
        ("0::/machine.slice/libpod-cb5442d4799b3f6153a2c5e4a697cb29d147793ccf406cb258ddca21e0f8c42c.scope/container", "podman",
         "cb5442d4799b3f6153a2c5e4a697cb29d147793ccf406cb258ddca21e0f8c42c"),
        ("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b_3c.slice/cri-containerd-2227daf62df6694645fee5df53c1f91271546a9560e8600a525690ae252b7f63.scope",
         "containerd", "2227daf62df6694645fee5df53c1f91271546a9560e8600a525690ae252b7f63"),
    ])
    func cgroupForms(line: String, engine: String, id: String) {
        let signal = containerSignals(cgroup: parseProcCgroup(line).entries).first { $0.containerID != nil }
        #expect(signal?.engine == engine)
        #expect(signal?.containerID == id)
    }

    @Test("host cgroups are not containers: services, sessions, conmon, this VM's process_api")
    func hostCgroups() {
        for line in ["0::/system.slice/docker.service", "0::/user.slice/user-1000.slice/session-2.scope",
                     "0::/machine.slice/libpod-conmon-cb5442d4799b3f6153a2c5e4a697cb29d147793ccf406cb258ddca21e0f8c42c.scope",
                     "4:memory:/process_api/b12656f0d6b8f46b668041bff8beb219", "0::/"] {
            #expect(containerSignals(cgroup: parseProcCgroup(line).entries).isEmpty, "\(line)")
        }
    }

    @Test("mountinfo: octal escapes, malformed lines, a host with podman's storage mounted is not a container")
    func mountinfoParsing() throws {
        let parsed = parseMountinfo("36 35 98:0 /mnt\\040dir /mnt/a\\134b rw,noatime master:1 - ext3 /dev/root rw,errors=continue\nbad line\n")
        #expect(parsed.mounts.count == 1)
        #expect(parsed.mounts.first?.root == "/mnt dir")
        #expect(parsed.mounts.first?.mountPoint == "/mnt/a\\b")
        #expect(parsed.mounts.first?.fsType == "ext3")
        #expect(parsed.problems == ["malformed line 2: 'bad line'"])
        let host = try collect(ContainerProbe(), onMachine: "container-procfs-proc-pid-mountinfo")
        #expect(host.status == .absent)
    }

    @Test("cgroup value parsers")
    func cgroupValues() {
        #expect(parseCgroupCPUMax("max 100000\n")! == (nil, 100_000))
        #expect(parseCgroupCPUMax("150000 100000")! == (150_000, 100_000))
        #expect(parseCgroupCPUMax("150000") == nil)
        #expect(parseCgroupMemoryLimit("max\n") == .some(nil))
        #expect(parseCgroupMemoryLimit("268435456") == .some(268_435_456))
        #expect(parseCgroupMemoryLimit("9223372036854771712") == .some(nil))
        #expect(parseCgroupMemoryLimit("lots") == nil)
        #expect(milliCPUs(quotaMicros: 150_000, periodMicros: 100_000) == 1500)
        #expect(milliCPUs(quotaMicros: 33_333, periodMicros: 100_000) == 333)
        #expect(splitEngineVersion("podman-4.3.1") == ("podman", "4.3.1"))
        #expect(splitEngineVersion("cri-o") == ("cri-o", nil))
        #expect(isImageDigest("sha256:d2aea36cb74d02b3300febfc220f58a8e9ccdcbf81536983e1603f3c2d296100"))
        #expect(!isImageDigest("sha256:d2aea36c"))
        #expect(!isImageDigest("latest"))
    }

    @Test("cgroup v2: cpu.max and memory.max of the process's cgroup and its ancestors, the tightest wins")
    func cgroupV2() throws {
        // The mountinfo is a real podman container's on a cgroup v2 host (cgroup2 at /sys/fs/cgroup);
        // the limit files are written in the format of the kernel's cgroup-v2 documentation.
        let machine = ScratchMachine("cgroup-v2")
        try machine.copy("/proc/self/mountinfo", from: "container-jenkins-mountinfo-containerized-podman")
        try machine.write("/proc/self/cgroup", "0::/job/step\n")
        try machine.write("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n")
        try machine.write("/sys/fs/cgroup/job/cpu.max", "200000 100000\n")
        try machine.write("/sys/fs/cgroup/job/memory.max", "1073741824\n")
        try machine.write("/sys/fs/cgroup/job/step/cpu.max", "max 100000\n")
        try machine.write("/sys/fs/cgroup/job/step/memory.max", "max\n")
        try machine.write("/sys/fs/cgroup/job/step/cpuset.cpus.effective", "0-3\n")
        let section = try machine.collect(ContainerProbe())
        #expect(section.status == .ok, "\(section.issues)")
        #expect(section.data?["cgroup"] == [
            "hierarchy": "v2", "cpuController": "v2", "cpuQuotaMicros": 200_000, "cpuPeriodMicros": 100_000,
            "cpuLimitMilliCPUs": 2000, "memoryController": "v2", "memoryLimitBytes": 1_073_741_824, "cpusetCPUs": "0-3",
        ])
    }

    @Test("PROVENANCE_IMAGE_DIGEST: taken when well-formed, reported when not")
    func launcherDigest() throws {
        let machine = ScratchMachine("digest")
        try machine.copy("/proc/self/mountinfo", from: "container-jenkins-mountinfo-containerized-podman")
        try machine.environment(["PROVENANCE_IMAGE_DIGEST": "latest", "container": "podman"])
        let bad = try machine.collect(ContainerProbe())
        #expect(bad.data?["imageDigest"] == nil)
        #expect(bad.issues.contains { $0.source == "environment PROVENANCE_IMAGE_DIGEST" })
    }

    @Test("apptainer: labels.json, the image name from the environment, the engine from the variables")
    func apptainer() throws {
        // In the form `apptainer build` writes labels.json and `apptainer exec` sets the variables;
        // no apptainer recording was available (Debian 12 does not package it).
        let machine = ScratchMachine("apptainer")
        try machine.write("/.singularity.d/labels.json",
                          #"{"org.label-schema.build-arch": "amd64", "org.label-schema.usage.apptainer.version": "1.2.5"}"#)
        try machine.environment(["APPTAINER_CONTAINER": "/scratch/images/trainer.sif", "APPTAINER_NAME": "trainer.sif"])
        let section = try machine.collect(ContainerProbe())
        #expect(section.data?["engine"] == "apptainer")
        #expect(section.data?["imageName"] == "trainer.sif")
        #expect(section.data?["labels"]?["org.label-schema.build-arch"] == "amd64")
    }
}
