import Foundation
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

/// A recorded machine tree with CPU data, and the fuller copy of it that `lscpu --sysroot` needs.
///
/// What lscpu (util-linux 2.38) needs, from its source (sys-utils/lscpu-cpu.c, lscpu-topology.c)
/// and strace: `sys/devices/system/cpu/possible` (without it lscpu exits with "failed to
/// determine number of CPUs"), `present` (its `CPU(s)`; 0 when missing), `online`; topology only
/// from the hex masks `cpuN/topology/{thread,core,book,drawer}_siblings` (never from cpuinfo's
/// `physical id` / `core id`; s390 also `/proc/sysinfo` and cpuinfo's `max thread id`). The copy is
/// made in a temporary directory; the recorded files are never changed. What the copy adds is
/// written down in `derived`.
final class LscpuTree {
    let name: String
    /// The recorded tree (a fixture machine, or a reference-data tree unpacked in a temp dir).
    let recorded: String
    let fuller: String
    private(set) var derived: [String] = []
    /// CPUs of the copy's `present` list that have `topology/thread_siblings`, and how many are present.
    private(set) var topologyCoverage: (covered: Int, present: Int) = (0, 0)
    private var temporary: [String] = []

    init(name: String, recorded: String) {
        self.name = name
        self.recorded = recorded
        fuller = "/tmp/provenance-lscpu-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
        temporary.append(fuller)
        build()
    }

    /// Unpacks a util-linux dump (`NAME.tar.gz` holding `NAME/{proc,sys}`) into a temp dir.
    convenience init(dump: String) {
        let unpacked = "/tmp/provenance-lscpu-dump-\(getpid())-\(Int.random(in: 0...1_000_000_000))"
        _ = shell("mkdir -p '\(unpacked)' && tar -xzf '\(ReferenceData.path)/lscpu-dumps/\(dump).tar.gz' -C '\(unpacked)'")
        self.init(name: "lscpu-dumps/\(dump)", recorded: "\(unpacked)/\(dump)")
        temporary.append(unpacked)
    }

    deinit { for path in temporary { _ = shell("rm -rf '\(path)'") } }

    private let fs = RootedFileSystem()

    private func build() {
        let cpu = "\(fuller)/sys/devices/system/cpu"
        _ = shell("mkdir -p '\(fuller)/proc' '\(fuller)/sys/devices/system'")
        for file in ["proc/cpuinfo", "proc/sysinfo"] where fs.exists("\(recorded)/\(file)") {
            _ = shell("cp -L '\(recorded)/\(file)' '\(fuller)/\(file)'")
        }
        for directory in ["cpu", "node"] where fs.isDirectory("\(recorded)/sys/devices/system/\(directory)") {
            _ = shell("cp -rL '\(recorded)/sys/devices/system/\(directory)' '\(fuller)/sys/devices/system/'")
        }
        _ = shell("mkdir -p '\(cpu)' && chmod -R u+w '\(fuller)'")

        let cpuinfo = ((try? fs.read("\(recorded)/proc/cpuinfo")) ?? nil).map(parseCPUInfo)
        let directories = ((try? fs.list(cpu)) ?? []).compactMap { $0.hasPrefix("cpu") ? Int($0.dropFirst(3)) : nil }
        let listed = cpuinfo.map { file in
            file.processors.enumerated().map { position, entry in entry.value("processor").flatMap { Int($0) } ?? position }
        } ?? []
        // The CPUs the machine had: its own lists when recorded; else every CPU directory and
        // cpuinfo entry (a trimmed tree keeps cpu0 and cpu10 of 20, cpuinfo lists all 20).
        let recordedList = ["present", "possible", "online"].lazy.compactMap { self.fs.attribute("\(cpu)/\($0)") }.first
        var known = Set(directories).union(listed)
        if known.isEmpty, let count = cpuinfo.map(cpuLogicalCount), count > 0 { known = Set(0..<count) }
        let list = recordedList ?? formatCPUList(Array(known.isEmpty ? [0] : known))
        for file in ["possible", "present"] where fs.attribute("\(cpu)/\(file)") == nil {
            write("\(cpu)/\(file)", list + "\n")
            derived.append("\(file) = \(list) (from \(recordedList == nil ? "the CPU directories and cpuinfo entries" : "the recorded CPU lists"))")
        }
        // Kernels before 2.6.x and trimmed copies keep `*_list` without the hex mask lscpu reads.
        for number in directories {
            let topology = "\(cpu)/cpu\(number)/topology"
            for name in ["thread_siblings", "core_siblings"] where fs.attribute("\(topology)/\(name)") == nil {
                guard let cpus = fs.attribute("\(topology)/\(name)_list").flatMap(parseCPUList) else { continue }
                write("\(topology)/\(name)", hexMask(cpus) + "\n")
                derived.append("cpu\(number)/topology/\(name) from \(name)_list")
            }
        }
        let present = fs.attribute("\(cpu)/present").flatMap(parseCPUList) ?? []
        let covered = present.filter { fs.attribute("\(cpu)/cpu\($0)/topology/thread_siblings") != nil }.count
        topologyCoverage = (covered, present.count)
    }

    private func write(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }

    /// A kernel cpumask as sysfs writes it: hex words of 32 bits, most significant first, commas between.
    private func hexMask(_ cpus: [Int]) -> String {
        let words = (cpus.max() ?? 0) / 32 + 1
        var values = [UInt32](repeating: 0, count: words)
        for cpu in cpus { values[cpu / 32] |= 1 << UInt32(cpu % 32) }
        return values.reversed().map { String(format: "%08x", $0) }.joined(separator: ",")
    }

    /// `LC_ALL=C lscpu --sysroot` on the fuller copy: every `Field: value` line in order (a field
    /// repeats once per CPU type on ARM big.LITTLE), or the error lscpu gave.
    func lscpu() -> Result<[(field: String, value: String)], LscpuError> {
        let result = shell("LC_ALL=C lscpu --sysroot '\(fuller)' 2>&1")
        guard result.status == 0 else { return .failure(LscpuError(message: result.output.trimmed)) }
        return .success(parseLscpuSummary(result.output))
    }

    /// Our cpu section of the recorded tree (not the copy: the probe reads what was recorded).
    func section() throws -> CPUSection {
        let machine = try Machine.recorded(root: recorded, clock: FixedClock(secondsSinceEpoch: 0))
        let section = Capture.collect(CPUProbe(), ProbeContext(machine: machine, commandTimeout: 5, deadline: monotonicSeconds() + 5))
        let data = try #require(section.data, "\(name): cpu section \(section.status) \(section.issues)")
        return try JSONDecoder().decode(CPUSection.self, from: Data(CanonicalJSON.serialize(data)))
    }
}

struct LscpuError: Error { let message: String }

/// `Field:   value` lines of lscpu's summary (and of the expected outputs util-linux records).
func parseLscpuSummary(_ text: String) -> [(field: String, value: String)] {
    text.lines.prefix { !$0.hasPrefix("#") }.compactMap { line in
        guard let colon = line.firstIndex(of: ":") else { return nil }
        return (String(line[..<colon]).trimmed, String(line[line.index(after: colon)...]).trimmed)
    }
}

/// The topology lscpu states, summed over its CPU types (big.LITTLE prints one block per type).
struct LscpuTopology: Equatable, CustomStringConvertible {
    var sockets: Int?
    var clusters: Int?
    var cores: Int?
    var threadsPerCore: Int?
    var online: String?
    var cpus: Int?

    init(_ fields: [(field: String, value: String)]) {
        func all(_ name: String) -> [String] { fields.filter { $0.field == name }.map(\.value) }
        cpus = all("CPU(s)").first.flatMap { Int($0) }
        online = all("On-line CPU(s) list").first
        threadsPerCore = all("Thread(s) per core").compactMap { Int($0) }.max()
        let socketCounts = all("Socket(s)").map { Int($0) }
        let clusterCounts = all("Cluster(s)").compactMap { Int($0) }
        sockets = socketCounts.compactMap { $0 }.max()
        clusters = clusterCounts.max()
        // Cores per socket (or per cluster, where lscpu has no sockets) times sockets, per type.
        let perSocket = all("Core(s) per socket").compactMap { Int($0) }
        let perCluster = all("Core(s) per cluster").compactMap { Int($0) }
        if !perSocket.isEmpty, perSocket.count == socketCounts.compactMap({ $0 }).count {
            cores = zip(perSocket, socketCounts.compactMap { $0 }).map(*).reduce(0, +)
        } else if !perCluster.isEmpty, perCluster.count == clusterCounts.count {
            cores = zip(perCluster, clusterCounts).map(*).reduce(0, +)
        }
    }

    var description: String {
        "sockets \(sockets.map(String.init) ?? "-"), clusters \(clusters.map(String.init) ?? "-"), cores \(cores.map(String.init) ?? "-"), threads/core \(threadsPerCore.map(String.init) ?? "-"), online \(online ?? "-")"
    }
}

@Suite("CPU topology agrees with lscpu --sysroot on every recorded CPU tree")
struct LscpuAgreementTests {
    /// Fixture machines with /proc/cpuinfo or /sys/devices/system/cpu.
    static let fixtureTrees: [String] = Project.machineNames.filter { name in
        let fs = RootedFileSystem(root: Project.machines + "/" + name)
        return fs.attribute("/proc/cpuinfo") != nil || fs.isDirectory("/sys/devices/system/cpu")
    }.sorted()

    static let lscpuVersion = shell("lscpu --version").output.trimmed

    /// One tree: lscpu must run; where the tree has sysfs topology for every CPU, sockets, cores,
    /// threads per core (and online CPUs, where recorded) must agree with ours. Where lscpu can
    /// give no topology the reason is checked to be that, and printed.
    func check(_ tree: LscpuTree) throws -> String {
        let ours = try tree.section()
        let summary: [(field: String, value: String)]
        switch tree.lscpu() {
        case .failure(let error) where !RootedFileSystem().exists(tree.recorded + "/proc/cpuinfo"):
            // lscpu cannot run without /proc/cpuinfo (lscpu-cputype.c opens it unconditionally).
            #expect(error.message.contains("cannot open /proc/cpuinfo"), "\(tree.name): \(error.message)")
            return "\(tree.name): lscpu cannot run: no /proc/cpuinfo recorded (\(error.message))"
        case .failure(let error):
            Issue.record("\(tree.name): lscpu --sysroot failed on the fuller tree: \(error.message)")
            return "\(tree.name): lscpu failed"
        case .success(let fields): summary = fields
        }
        let theirs = LscpuTopology(summary)
        let (covered, present) = tree.topologyCoverage
        let derived = tree.derived.isEmpty ? "" : " [tree: \(tree.derived.prefix(3).joined(separator: "; "))\(tree.derived.count > 3 ? "; …" : "")]"

        // Vendor (x86 vendor_id, ARM implementer) as lscpu decodes it, wherever lscpu names one.
        if let vendor = summary.first(where: { $0.field == "Vendor ID" })?.value, vendor != "-" {
            #expect(ours.vendor == vendor, "\(tree.name): vendor \(ours.vendor ?? "nil") vs lscpu \(vendor)")
        }
        // Model name: x86 and others state one; ARM64 states none and lscpu prints the part name.
        let models = summary.filter { $0.field == "Model name" && $0.value != "-" }.map(\.value)
        if !models.isEmpty {
            var names = Set([ours.modelName, ours.identification["partName"]].compactMap { $0 })
            names.formUnion((ours.coreTypes ?? []).flatMap { [$0.modelName, $0.partName].compactMap { $0 } })
            for model in models {
                #expect(names.contains(model), "\(tree.name): lscpu model name \(model), ours \(names.sorted())")
            }
        }

        // A trimmed tree (cpu0 and cpu10 of 20): lscpu counts over the CPUs with topology, and so
        // do we when cpuinfo has no topology of its own to prefer (our `source` is then sysfs).
        let partialButComparable = covered > 0 && ours.topology?.source == "sysfs"
        guard (covered == present || partialButComparable), present > 0 else {
            // lscpu 2.38 computes sockets/cores/threads from the sysfs masks only, so it gives none
            // (or counts over the covered CPUs only) here; it must say so by its zeros or counts.
            if covered == 0 {
                #expect(theirs.sockets == 0 || theirs.sockets == nil, "\(tree.name): \(theirs)")
            }
            // Threads per core where lscpu has them: s390's cpuinfo `max thread id` (no sysfs), or
            // the sibling sets of the CPUs a trimmed tree kept (host-procfs: 2 of 8).
            if let threads = theirs.threadsPerCore, threads > 0 {
                #expect(ours.topology?.threadsPerCore == threads, "\(tree.name): threads per core ours \(ours.topology?.threadsPerCore ?? -1), lscpu \(threads)")
                let from = covered == 0 ? "cpuinfo's max thread id" : "the \(covered) of \(present) CPUs with sysfs topology"
                return "\(tree.name): threads per core compared (\(threads), lscpu from \(from)); not the rest\(derived)"
            }
            return "\(tree.name): no lscpu topology (sysfs topology for \(covered) of \(present) CPUs; \(Self.lscpuVersion) reads topology only from cpuN/topology/*_siblings); compared vendor/model only\(derived)"
        }
        let topology = try #require(ours.topology, "\(tree.name): we have no topology where lscpu has: \(theirs)")
        #expect(topology.threadsPerCore == theirs.threadsPerCore, "\(tree.name): threads per core ours \(topology.threadsPerCore ?? -1), lscpu \(theirs)")
        #expect(topology.sockets == (theirs.sockets ?? theirs.clusters), "\(tree.name): sockets ours \(topology.sockets ?? -1), lscpu \(theirs)")
        #expect(topology.cores == theirs.cores, "\(tree.name): cores ours \(topology.cores ?? -1), lscpu \(theirs)")
        if let online = topology.online {
            // lscpu rewrites the kernel's list (`0-1` as `0,1`): compare the CPUs.
            #expect(parseCPUList(online) == theirs.online.flatMap(parseCPUList), "\(tree.name): online ours \(online), lscpu \(theirs)")
        }
        let scope = covered == present ? "" : " over the \(covered) of \(present) CPUs with sysfs topology"
        return "\(tree.name): topology compared\(scope) (lscpu: \(theirs); ours: sockets \(topology.sockets ?? -1), cores \(topology.cores ?? -1), threads/core \(topology.threadsPerCore ?? -1))\(derived)"
    }

    @Test("this machine: sockets, cores, threads per core and online CPUs equal lscpu's")
    func live() throws {
        let section = Capture.collect(CPUProbe(), ProbeContext(machine: Machine.live(), commandTimeout: 5, deadline: monotonicSeconds() + 5))
        let data = try #require(section.data)
        let topology = try #require(try JSONDecoder().decode(CPUSection.self, from: Data(CanonicalJSON.serialize(data))).topology)
        let theirs = LscpuTopology(parseLscpuSummary(shell("LC_ALL=C lscpu").output))
        #expect(topology.sockets == theirs.sockets && topology.cores == theirs.cores && topology.threadsPerCore == theirs.threadsPerCore,
                "ours \(topology), lscpu \(theirs)")
        #expect(topology.online.flatMap(parseCPUList) == theirs.online.flatMap(parseCPUList), "ours \(topology), lscpu \(theirs)")
    }

    @Test("lscpu is util-linux's")
    func lscpuPresent() {
        #expect(Self.lscpuVersion.hasPrefix("lscpu from util-linux"), "lscpu --version: \(Self.lscpuVersion)")
    }

    @Test("every fixture machine with CPU data", arguments: fixtureTrees)
    func fixture(name: String) throws {
        let line = try check(LscpuTree(name: name, recorded: Project.machines + "/" + name))
        print(line)
    }

    /// No recorded tree has core ids that repeat per cluster (the hwloc `128arm-2pa2n8cluster4co`
    /// tree is a binary archive not in the data; Fixtures keep only its /proc/version), so this
    /// layout is written here the way ARM64 device-tree kernels number cores: `core_id` counts
    /// within each cluster, one package. The cpuinfo is a real one (ODROID-C2, 4× Cortex-A53).
    /// lscpu is the independent answer: it counts cores by their thread-sibling sets.
    @Test("core ids that repeat per cluster (written layout, real cpuinfo): cores counted as lscpu counts them")
    func repeatedCoreIDs() throws {
        let layout = ReferenceMachine("cluster-layout")
        layout.write("/proc/cpuinfo", try #require(try RootedFileSystem().read(Project.machines + "/cpu-pycpuinfo-aarch64-odroid-c2-cortex-a53/proc/cpuinfo")))
        for cpu in 0..<4 {
            let base = "/sys/devices/system/cpu/cpu\(cpu)/topology"
            layout.write("\(base)/physical_package_id", "0\n")
            layout.write("\(base)/core_id", "\(cpu % 2)\n")
            layout.write("\(base)/cluster_id", "\(cpu / 2)\n")
            layout.write("\(base)/thread_siblings_list", "\(cpu)\n")
            layout.write("\(base)/core_siblings_list", "0-3\n")
        }
        layout.write("/sys/devices/system/cpu/online", "0-3\n")
        let tree = LscpuTree(name: "cluster-layout", recorded: layout.root)
        let line = try check(tree)
        print(line)
        #expect(line.contains("topology compared"))
        #expect(try tree.section().topology?.cores == 4)
    }

    @Test("fixtures with full sysfs topology are compared, not only listed")
    func comparedCount() throws {
        let compared = Self.fixtureTrees.filter { name in
            let tree = LscpuTree(name: name, recorded: Project.machines + "/" + name)
            return tree.topologyCoverage.present > 0 && tree.topologyCoverage.covered == tree.topologyCoverage.present
        }
        print("lscpu topology compared on \(compared.count) of \(Self.fixtureTrees.count) fixture trees: \(compared)")
        #expect(compared.contains("host-cadvisor-rpi4"))
    }
}

@Suite("lscpu on the util-linux dumps (reference data, unpacked in a temp dir)",
       .enabled(if: ReferenceData.available, Comment(rawValue: ReferenceData.missing)))
struct LscpuDumpTests {
    @Test("UltraSparc T1: lscpu, its expected output and ours agree on the topology")
    func sparc() throws {
        let tree = LscpuTree(dump: "sparc64-UltraSparc-T1")
        print(try LscpuAgreementTests().check(tree))
        let expected = LscpuTopology(parseLscpuSummary(try ReferenceData.read("lscpu-dumps/sparc64-UltraSparc-T1.lscpu-expected.txt")))
        let ours = try tree.section()
        let topology = try #require(ours.topology)
        #expect(topology.threadsPerCore == 4 && expected.threadsPerCore == 4)
        #expect(topology.sockets == expected.sockets && expected.sockets == 6)
        #expect(topology.cores == expected.cores && expected.cores == 6)
        #expect(topology.online == expected.online && expected.online == "0-23")
        // The recorded expected output is from 2014, when `CPU(s)` counted the possible CPUs (32);
        // lscpu 2.38 counts the present ones (24), as cpuinfo's `ncpus active` does.
        #expect(expected.cpus == 32)
        if case .success(let fields) = tree.lscpu() { #expect(LscpuTopology(fields).cpus == 24) }
        #expect(ours.logicalCPUs == 24 && ours.architectureFamily == "sparc")
        #expect(ours.modelName == "UltraSparc T1 (Niagara)")
    }

    @Test("Meteor Lake: expected output only (the dump's tarball is not in the reference data)")
    func meteorLake() throws {
        // Nothing to run lscpu or our probe on: the tar.gz is binary and was not retrieved. The
        // expected output is checked to parse, so a future tarball can be compared against it.
        let expected = LscpuTopology(parseLscpuSummary(try ReferenceData.read("lscpu-dumps/x86_64-meteor_lake.lscpu-expected.txt")))
        #expect(expected.cpus == 22 && expected.threadsPerCore == 2 && expected.sockets == 1 && expected.cores == 16)
        #expect(!RootedFileSystem().isDirectory(ReferenceData.path + "/lscpu-dumps/x86_64-meteor_lake"))
    }

    @Test("sys-tuning 2-socket Xeon: CPU lists only, no cpuinfo: lscpu cannot run, and says why")
    func arbiterd() throws {
        let tree = LscpuTree(name: "sys-tuning/arbiterd-intel-2s-48cpu", recorded: ReferenceData.path + "/sys-tuning/arbiterd-intel-2s-48cpu")
        let line = try LscpuAgreementTests().check(tree)
        print(line)
        #expect(line.contains("lscpu cannot run: no /proc/cpuinfo recorded"))
        // Ours still reads the recorded lists.
        #expect(try tree.section().topology?.online == "0-47")
    }
}
