import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

/// Every recorded cpuinfo, os-release, meminfo and /proc/version gives the facts read off the
/// files by hand (Fixtures/expected/*.tsv).
@Suite("Host probes on recorded machines")
struct RecordedHostProbesTests {
    static let cpu = ExpectedTable("cpu")
    static let os = ExpectedTable("os")
    static let mem = ExpectedTable("mem")
    static let kernel = ExpectedTable("kernel")
    static let topology = ExpectedTable("topology")

    func optional(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }

    @Test("cpu: model, vendor, count, architecture", arguments: cpu.fixtures)
    func cpuFacts(fixture: String) throws {
        let expected = Self.cpu.row(fixture)
        let section = try collect(CPUProbe(), onMachine: fixture)
        #expect(section.status == .ok || section.status == .partial)
        #expect(!section.issues.contains { $0.source == "/proc/cpuinfo" }, "\(section.issues)")
        let data = try #require(section.data)
        #expect(data["logicalCPUs"]?.intValue == Int64(expected["logical_cpus"] ?? ""))
        #expect(data["modelName"]?.stringValue == optional(expected["model_name"]))
        #expect(data["architectureFamily"]?.stringValue == optional(expected["architecture_family"]))
        if let vendor = optional(expected["vendor"]) {
            #expect(data["vendor"]?.stringValue == vendor)
        }
    }

    @Test("os: os-release fields, unquoted, from the right file", arguments: os.fixtures)
    func osFacts(fixture: String) throws {
        let expected = Self.os.row(fixture)
        let section = try collect(OSProbe(), onMachine: fixture)
        let data = try #require(section.data)
        let release = data["osRelease"]
        #expect(release?["ID"]?.stringValue == optional(expected["id"]))
        #expect(release?["VERSION_ID"]?.stringValue == optional(expected["version_id"]))
        #expect(release?["NAME"]?.stringValue == optional(expected["name"]))
        #expect(release?["PRETTY_NAME"]?.stringValue == optional(expected["pretty_name"]))
        #expect(data["osReleaseSource"]?.stringValue == expected["source_path"])
        #expect(!section.issues.contains { $0.source.hasSuffix("os-release") }, "\(section.issues)")
    }

    @Test("memory: totals in bytes", arguments: mem.fixtures)
    func memoryFacts(fixture: String) throws {
        let expected = Self.mem.row(fixture)
        let section = try collect(MemoryProbe(), onMachine: fixture)
        let data = try #require(section.data)
        #expect(data["memTotalBytes"]?.intValue == Int64(expected["mem_total_bytes"] ?? ""))
        #expect(data["swapTotalBytes"]?.intValue == Int64(expected["swap_total_bytes"] ?? ""))
        #expect(data["hugePages"]?["total"]?.intValue == Int64(expected["hugepages_total"] ?? ""))
        #expect(data["hugePages"]?["pageSizeBytes"]?.intValue == Int64(expected["hugepage_size_bytes"] ?? ""))
    }

    @Test("kernel: release and build from /proc/version", arguments: kernel.fixtures)
    func kernelFacts(fixture: String) throws {
        let expected = Self.kernel.row(fixture)
        let data = try #require(try collect(OSProbe(), onMachine: fixture).data)
        #expect(data["kernel"]?["release"]?.stringValue == expected["release"])
        #expect(data["kernel"]?["version"]?.stringValue == expected["version"])
    }

    @Test("cpu topology from sysfs", arguments: topology.fixtures)
    func topologyFacts(fixture: String) throws {
        let expected = Self.topology.row(fixture)
        let data = try #require(try collect(CPUProbe(), onMachine: fixture).data)
        let topology = data["topology"]
        #expect(topology?["online"]?.stringValue == optional(expected["online"]))
        #expect(topology?["sockets"]?.intValue == Int64(expected["sockets"] ?? ""))
        #expect(topology?["cores"]?.intValue == Int64(expected["cores"] ?? ""))
        #expect(topology?["threadsPerCore"]?.intValue == Int64(expected["threads_per_core"] ?? ""))
        #expect(data["numaNodes"]?.arrayValue?.count == Int(expected["numa_nodes"] ?? ""))
    }

    @Test("every fixture's files are covered by an expectation table")
    func coverage() {
        let covered = Set(Self.cpu.fixtures + Self.os.fixtures + Self.mem.fixtures + Self.kernel.fixtures)
        let hostMachines = Project.machineNames.filter {
            ["cpu-", "os-", "mem-", "kver-"].contains(where: $0.hasPrefix)
        }
        #expect(!hostMachines.isEmpty)
        for name in hostMachines { #expect(covered.contains(name), "\(name) has no expected facts") }
    }
}

@Suite("Host probe parsers")
struct HostParserTests {
    @Test("os-release quoting as os-release(5) specifies")
    func osReleaseQuoting() {
        let parsed = parseOSRelease("""
            # comment
            NAME="Fancy \\"Linux\\" \\$HOME \\\\ \\`x\\`"
            ID=fancy
            VERSION='1.0 "LTS"'
            PRETTY_NAME=Fancy\\ Linux
            BROKEN
            OPEN="never closed

            """)
        #expect(parsed.fields["NAME"] == "Fancy \"Linux\" $HOME \\ `x`")
        #expect(parsed.fields["ID"] == "fancy")
        #expect(parsed.fields["VERSION"] == "1.0 \"LTS\"")
        #expect(parsed.fields["PRETTY_NAME"] == "Fancy Linux")
        #expect(parsed.problems.count == 2)
        #expect(parsed.problems[0].contains("line 6"))
    }

    @Test("cpu lists", arguments: [("0-3,8,10-11", [0, 1, 2, 3, 8, 10, 11]), ("5", [5]), ("", [])])
    func cpuLists(text: String, numbers: [Int]) {
        #expect(parseCPUList(text) == numbers)
        #expect(formatCPUList(numbers) == text)
    }

    @Test("meminfo of a NUMA node and of an old kernel")
    func meminfoVariants() {
        #expect(parseMeminfo("Node 0 MemTotal:       4810956 kB\nNode 0 HugePages_Total:     0\n").values
            == ["MemTotal": 4810956 * 1024, "HugePages_Total": 0])
        let old = parseMeminfo("        total:    used:    free:\nMem:  1 2 3\nMemTotal: 10 kB\nBad line\n")
        #expect(old.values == ["MemTotal": 10240])
        #expect(old.problems.count == 1)
    }

    @Test("a kernel command line keeps its parameters but not its secrets")
    func commandLine() {
        #expect(maskKernelCommandLine("ro quiet root=UUID=1 iscsi_password=hunter2 nfsroot=http://u:p@h/x")
            == "ro quiet root=UUID=1 iscsi_password=[masked] nfsroot=http://[masked]@h/x")
    }

    @Test("hybrid and big.LITTLE processors are grouped by kind")
    func coreTypes() throws {
        let data = try #require(try collect(CPUProbe(), onMachine: "cpu-hwloc-aarch64-nvidia-dgx-spark-gb10").data)
        let types = try #require(data["coreTypes"]?.arrayValue)
        #expect(types.count == 2)
        #expect(Set(types.compactMap { $0["partName"]?.stringValue }) == ["Cortex-X925", "Cortex-A725"])
        #expect(types.compactMap { $0["count"]?.intValue }.reduce(0, +) == data["logicalCPUs"]?.intValue)
        #expect(data["vendor"]?.stringValue == "ARM")
    }
}

/// The live capture agrees with the machine's own tools.
@Suite("Host probes on this machine")
struct LiveHostProbesTests {
    func live<P: Probe>(_ probe: P) throws -> JSONValue {
        let machine = Machine.live()
        let context = ProbeContext(machine: machine, commandTimeout: 5, deadline: monotonicSeconds() + 5)
        let section = Capture.collect(probe, context)
        #expect(section.status == .ok, "\(section.issues)")
        return try #require(section.data)
    }

    @Test("os agrees with uname and /etc/os-release sourced by the shell")
    func os() throws {
        let data = try live(OSProbe())
        #expect(data["kernel"]?["release"]?.stringValue == shell("uname -r").output.trimmed)
        #expect(data["kernel"]?["version"]?.stringValue == shell("uname -v").output.trimmed)
        #expect(data["architecture"]?.stringValue == shell("uname -m").output.trimmed)
        let sourced = shell(". /etc/os-release; printf '%s\\n%s\\n%s' \"$ID\" \"$VERSION_ID\" \"$PRETTY_NAME\"").output
        let fields = sourced.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(data["osRelease"]?["ID"]?.stringValue == fields[0])
        #expect(data["osRelease"]?["VERSION_ID"]?.stringValue == fields[1])
        #expect(data["osRelease"]?["PRETTY_NAME"]?.stringValue == fields[2])
    }

    @Test("cpu agrees with nproc and lscpu")
    func cpu() throws {
        let data = try live(CPUProbe())
        #expect(data["logicalCPUs"]?.intValue == Int64(shell("nproc --all").output.trimmed))
        let lscpu = try JSONParser.parse(shell("lscpu -J").output)
        var fields: [String: String] = [:]
        for entry in lscpu["lscpu"]?.arrayValue ?? [] {
            if let field = entry["field"]?.stringValue, let value = entry["data"]?.stringValue { fields[field] = value }
        }
        #expect(data["modelName"]?.stringValue == fields["Model name:"])
        #expect(data["vendor"]?.stringValue == fields["Vendor ID:"])
        #expect(data["topology"]?["sockets"]?.intValue == Int64(fields["Socket(s):"] ?? ""))
        #expect(data["topology"]?["threadsPerCore"]?.intValue == Int64(fields["Thread(s) per core:"] ?? ""))
        let flags = Set((fields["Flags:"] ?? "").split(separator: " ").map(String.init))
        #expect(Set(data["flags"]?.arrayValue?.compactMap(\.stringValue) ?? []) == flags)
    }

    @Test("memory agrees with /proc/meminfo read by awk")
    func memory() throws {
        let data = try live(MemoryProbe())
        let totalKiB = try #require(Int64(shell("awk '/^MemTotal:/ {print $2}' /proc/meminfo").output.trimmed))
        #expect(data["memTotalBytes"]?.intValue == totalKiB * 1024)
        let swapKiB = try #require(Int64(shell("awk '/^SwapTotal:/ {print $2}' /proc/meminfo").output.trimmed))
        #expect(data["swapTotalBytes"]?.intValue == swapKiB * 1024)
    }
}

/// The CPU caches, each shared cache read once, against every attribute of every CPU's caches.
@Suite("CPU caches")
struct CPUCachesTests {
    @Test("every recorded machine with caches in sysfs and this one: the same caches as reading every CPU")
    func sameAsEveryCPU() throws {
        let roots = Project.machineNames.map { Project.machines + "/" + $0 } + ["/"]
        var withCaches = 0
        for root in roots {
            let fs = RootedFileSystem(root: root)
            let reference = CPUProbe().readCaches(fs, sharedOnce: false)
            let read = CPUProbe().readCaches(fs)
            // Caches of one level, type and size may come in either order.
            #expect(read.map { $0.map { "\($0)" }.sorted() } == reference.map { $0.map { "\($0)" }.sorted() }, "\(root)")
            if let reference, !reference.isEmpty { withCaches += 1 }
        }
        // No recorded machine holds cache directories; this machine's do where sysfs has them (here
        // an L3 shared by both CPUs, read once).
        if RootedFileSystem().exists("/sys/devices/system/cpu/cpu0/cache/index0/level") {
            #expect(withCaches >= 1, "machines with caches: \(withCaches)")
        }
    }
}
