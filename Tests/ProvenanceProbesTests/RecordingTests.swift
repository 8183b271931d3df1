import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#endif

/// `provenance record`'s library: a machine recorded while its probes run replays the same
/// sections; probes read only within what their descriptors declare.
@Suite("Recording a machine")
struct RecordingTests {
    /// Every built-in probe that reads the machine (git, datasets and run describe the job).
    static func machineProbes() -> [any Probe] {
        BuiltinProbes.all.filter { !MachineRecorder.liveOnlySections.contains($0.descriptor.id) }
    }

    static func capture() -> Capture {
        // 5 s: the replay of a hanging nvidia-smi waits that long, and a loaded test machine
        // needs that much for the others (1 s made probes time out under parallel tests).
        var capture = Capture(probes: machineProbes(), timeout: 5, toolVersion: "test")
        capture.grace = 0.5
        return capture
    }

    static func scratch(_ name: String) -> String {
        let path = "/tmp/provenance-recording-\(getpid())-\(name)-\(Int.random(in: 0...1_000_000_000))"
        mkdir(path, 0o755)
        return path
    }

    /// The differences between the sections of two manifests (status, data, issues).
    static func sectionDifferences(_ left: Manifest, _ right: Manifest, ignoring: Set<String> = []) -> [String] {
        let a = left.json["sections"]?.objectValue ?? [:]
        let b = right.json["sections"]?.objectValue ?? [:]
        return Set(a.keys).union(b.keys).subtracting(ignoring).sorted().flatMap { id in
            jsonDifferences(comparable(a[id]), comparable(b[id]), path: id)
        }
    }

    @Test("a recording of each fixture machine replays the same sections", arguments: Project.machineNames)
    func recordedFixtureReplays(name: String) throws {
        let source = try Machine.recorded(root: Project.machines + "/" + name, clock: FixedClock(secondsSinceEpoch: 0))
        let directory = Self.scratch("fixture") + "/recording"
        let result = try MachineRecorder(capture: Self.capture()).record(source, to: directory)
        let replayed = Self.capture().run(on: try Machine.recorded(root: directory, clock: FixedClock(secondsSinceEpoch: 0)))
        let differences = Self.sectionDifferences(result.manifest, replayed)
        #expect(differences.isEmpty, "\(name): \(differences.joined(separator: "\n"))")
        #expect(result.manifest.hostName == replayed.hostName)
        #expect(result.summary.leftOut.isEmpty, "\(result.summary.leftOut)")
        _ = shell("rm -rf '\(directory)/..'")
    }

    /// Which accesses of a capture are outside what the probes declare.
    static func undeclared(_ log: MachineAccessLog, probes: [any Probe]) -> [String] {
        let descriptors = Dictionary(probes.map { ($0.descriptor.id, $0.descriptor) }, uniquingKeysWith: { a, _ in a })
        var problems: [String] = []
        for access in log.accesses {
            guard let probe = access.probe, let descriptor = descriptors[probe] else { continue }
            let declared = switch access.kind {
            case .read, .externalRead: descriptor.declaresRead(access.path)
            default: descriptor.declaresLookup(access.path)
            }
            if !declared { problems.append("\(probe) \(access.kind.rawValue) \(access.path)") }
        }
        for command in log.commands {
            guard let probe = command.probe, let descriptor = descriptors[probe] else { continue }
            if !descriptor.declaresRun(command.argv) {
                problems.append("\(probe) runs \(command.argv.joined(separator: " "))")
            }
        }
        return problems.sorted()
    }

    @Test("on every fixture machine, each probe reads and runs only what its descriptor declares")
    func declaredReadsOnFixtures() throws {
        var problems: Set<String> = []
        for name in Project.machineNames {
            let log = MachineAccessLog()
            let machine = try Machine.recorded(root: Project.machines + "/" + name, clock: FixedClock(secondsSinceEpoch: 0))
            _ = Self.capture().run(on: machine.recordingAccesses(to: log))
            #expect(!log.accesses.isEmpty, "\(name): nothing read")
            problems.formUnion(Self.undeclared(log, probes: Self.machineProbes()))
        }
        #expect(problems.isEmpty, "\(problems.sorted().joined(separator: "\n"))")
    }

    @Test("on this machine, each probe reads and runs only what its descriptor declares")
    func declaredReadsLive() {
        let log = MachineAccessLog()
        var capture = Capture(probes: Self.machineProbes(), timeout: 10, toolVersion: "test")
        capture.grace = 0.5
        let manifest = capture.run(on: Machine.live(clock: FixedClock(secondsSinceEpoch: 0)).recordingAccesses(to: log))
        #expect(manifest.sections["os"]?.status == .ok)
        #expect(log.accesses.contains { $0.probe == "pci" && $0.kind == .externalRead })
        let problems = Self.undeclared(log, probes: Self.machineProbes())
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test("the declared-reads check catches a read outside the declaration")
    func undeclaredReadIsCaught() throws {
        let log = MachineAccessLog()
        let machine = try Machine.recorded(root: Project.machines + "/host-procfs", clock: FixedClock(secondsSinceEpoch: 0))
        let fs = machine.recordingAccesses(to: log).fs.attributed(to: "os")
        _ = try fs.read("/proc/meminfo")
        _ = try fs.read("/etc/os-release")
        #expect(Self.undeclared(log, probes: [OSProbe()]) == ["os read /proc/meminfo"])
    }

    @Test("declared read patterns: globs, braces, placeholders, notes")
    func declaredPatterns() {
        let pci = PCIProbe().descriptor
        #expect(pci.declaresRead("/sys/bus/pci/devices/0000:00:01.0/vendor"))
        #expect(pci.declaresLookup("/sys/bus/pci/devices"))
        #expect(!pci.declaresRead("/sys/bus/pci/devices/0000:00:01.0/resource0"))
        let python = PythonProbe().descriptor
        #expect(python.declaresRead("/opt/venv/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA"))
        #expect(!python.declaresRead("/etc/shadow"))
        #expect(NVIDIAProbe().descriptor.declaresRun(["/usr/bin/nvidia-smi", "-q", "-x"]))
        #expect(!NVIDIAProbe().descriptor.declaresRun(["rocm-smi"]))
    }

    @Test("the kernel command line is recorded masked, as the os section holds it")
    func kernelCommandLineMasked() throws {
        let machine = Self.scratch("cmdline")
        mkdir(machine + "/proc", 0o755)
        let secret = "plantedKernelSecret42"
        let line = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro password=\(secret) quiet\n"
        try AtomicFile.write(Array(line.utf8), to: machine + "/proc/cmdline")
        let source = try Machine.recorded(root: machine, clock: FixedClock(secondsSinceEpoch: 0))
        let result = try MachineRecorder(capture: Self.capture()).record(source, to: machine + "-recording")
        let recorded = try #require(try RootedFileSystem(root: machine + "-recording").read("/proc/cmdline"))
        #expect(!recorded.contains(secret))
        #expect(recorded.contains("password=[masked]"))
        let replayed = Self.capture().run(on: try Machine.recorded(root: machine + "-recording"))
        let original = result.manifest.sections["os"]?.data?["kernel"]?["commandLine"]
        #expect(original == .string("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro password=[masked] quiet"))
        #expect(replayed.sections["os"]?.data?["kernel"]?["commandLine"] == original)
        _ = shell("rm -rf '\(machine)' '\(machine)-recording'")
    }

    @Test("a secret-named pod label masked in the scheduler section is masked in the recording too")
    func podLabelSecretMasked() throws {
        let machine = Self.scratch("podinfo")
        let fixture = Project.machines + "/sched-k8s-downward-api-docs"
        _ = shell("cp -a '\(fixture)/.' '\(machine)/'")
        let secret = "PlantedLabelSecret123"
        let labels = try #require(try RootedFileSystem(root: fixture).read("/etc/podinfo/labels"))
        try AtomicFile.write(Array((labels + "\napi-token=\"\(secret)\"\n").utf8), to: machine + "/etc/podinfo/labels")
        let source = try Machine.recorded(root: machine, clock: FixedClock(secondsSinceEpoch: 0))
        let result = try MachineRecorder(capture: Self.capture()).record(source, to: machine + "-recording")
        #expect(result.manifest.sections["scheduler"]?.data?["kubernetes"]?["labels"]?["api-token"] == .string(Secrets.mask))
        let everything = shell("cat -v $(find '\(machine)-recording' -type f)").output
        #expect(everything.contains("rack-22"))
        #expect(!everything.contains(secret))
        let replayed = Self.capture().run(on: try Machine.recorded(root: machine + "-recording"))
        let differences = Self.sectionDifferences(result.manifest, replayed)
        #expect(differences.isEmpty, "\(differences)")
        _ = shell("rm -rf '\(machine)' '\(machine)-recording'")
    }

    @Test("files over the size limit are left out, said in the README")
    func sizeLimit() throws {
        let source = try Machine.recorded(root: Project.machines + "/host-procfs", clock: FixedClock(secondsSinceEpoch: 0))
        let directory = Self.scratch("limit") + "/recording"
        var options = MachineRecording.Options()
        options.maxFileBytes = 1000
        let result = try MachineRecorder(capture: Self.capture(), options: options).record(source, to: directory)
        #expect(result.summary.leftOut.contains { $0.hasPrefix("/proc/cpuinfo: ") && $0.contains("1000-byte limit per file") },
                "\(result.summary.leftOut)")
        #expect(!RootedFileSystem(root: directory).exists("/proc/cpuinfo"))
        let readme = try #require(try RootedFileSystem(root: directory).read("/README.md"))
        #expect(readme.contains("## Left out") && readme.contains("/proc/cpuinfo"))
        _ = shell("rm -rf '\(directory)/..'")
    }

    @Test("an anonymized recording of the A100 replays the GPU section with placeholders, consistently")
    func anonymizedGPU() throws {
        let source = try Machine.recorded(root: Project.machines + "/gpu-telegraf-a100-sxm4-v12")
        let directory = Self.scratch("anonymized") + "/recording"
        var recorder = MachineRecorder(capture: Self.capture())
        recorder.anonymize = true
        let result = try recorder.record(source, to: directory)
        let anonymizer = try #require(result.anonymizer)
        #expect(anonymizer.replacements["1650522003820"] == "serial-1")
        #expect(anonymizer.replacements["513536b6-7d19-9063-b049-1e69664bb298"] != nil)
        let xml = try #require(try RootedFileSystem(root: directory).read("/commands/001-nvidia-smi.out"))
        #expect(!xml.contains("1650522003820") && !xml.contains("513536b6-7d19-9063-b049-1e69664bb298"))
        let replayed = Self.capture().run(on: try Machine.recorded(root: directory))
        let original = try #require(result.manifest.sections["gpu.nvidia"]?.data)
        let anonymized = try #require(replayed.sections["gpu.nvidia"]?.data)
        #expect(original != anonymized)
        #expect(jsonDifferences(anonymizer.apply(to: original), anonymized).isEmpty,
                "\(jsonDifferences(anonymizer.apply(to: original), anonymized))")
        let readme = try #require(try RootedFileSystem(root: directory).read("/README.md"))
        #expect(readme.contains("## Anonymized"))
        _ = shell("rm -rf '\(directory)/..'")
    }
}
