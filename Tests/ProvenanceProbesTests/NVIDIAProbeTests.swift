import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

/// The recorded GPU machines (Fixtures/machines/gpu-*) and a way to run one probe on them.
enum GPUFixtures {
    /// Fixtures/, found from this file's path (Tests/ProvenanceProbesTests/X.swift → ../../Fixtures).
    static let directory: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return (parts + ["Fixtures"]).joined(separator: "/")
    }()

    static var machines: [String] {
        ((try? RootedFileSystem(root: directory + "/machines").list("/")) ?? nil ?? []).filter { $0.hasPrefix("gpu-") }
    }

    /// Runs a probe on a recorded machine through `Machine.recorded(root:)` and `Capture.collect`,
    /// with the given deadline; returns the section and the wall time it took.
    static func run<P: Probe>(_ probe: P, on machine: String, deadline seconds: Double = 5) throws
        -> (section: Section, seconds: Double)
    {
        let recorded = try Machine.recorded(root: directory + "/machines/" + machine,
                                            clock: FixedClock(secondsSinceEpoch: 0))
        return run(probe, on: recorded, deadline: seconds)
    }

    static func run<P: Probe>(_ probe: P, on machine: Machine, deadline seconds: Double = 5)
        -> (section: Section, seconds: Double)
    {
        let started = monotonicSeconds()
        let context = ProbeContext(machine: machine, commandTimeout: seconds, deadline: started + seconds)
        let section = Capture.collect(probe, context)
        return (section, monotonicSeconds() - started)
    }

    /// Every string in `data` that looks like a "no value" marker, with its path; the
    /// `unavailable` maps, which hold those markers on purpose, are skipped.
    static func markerLikeValues(_ value: JSONValue, path: String = "data") -> [String] {
        switch value {
        case .string(let text):
            let lowered = text.trimmed.lowercased()
            let markers = ["n/a", "[n/a]", "unknown error", "[unknown error]", "not supported", "[not supported]",
                           "insufficient permissions", "requested functionality has been deprecated", "none available"]
            return markers.contains(lowered) || lowered.isEmpty ? ["\(path) = '\(text)'"] : []
        case .array(let items):
            return items.enumerated().flatMap { markerLikeValues($0.element, path: "\(path)[\($0.offset)]") }
        case .object(let members):
            return members.filter { $0.key != "unavailable" }.flatMap { markerLikeValues($0.value, path: "\(path).\($0.key)") }
        default:
            return []
        }
    }

    /// Paths of floating-point numbers in a value (canonical data holds integers only).
    static func floats(_ value: JSONValue, path: String = "data") -> [String] {
        switch value {
        case .double: return [path]
        case .array(let items): return items.enumerated().flatMap { floats($0.element, path: "\(path)[\($0.offset)]") }
        case .object(let members): return members.flatMap { floats($0.value, path: "\(path).\($0.key)") }
        default: return []
        }
    }

    /// Every key anywhere in a value.
    static func keys(_ value: JSONValue) -> Set<String> {
        switch value {
        case .array(let items): return items.reduce(into: []) { $0.formUnion(keys($1)) }
        case .object(let members):
            return members.reduce(into: Set(members.keys)) { $0.formUnion(keys($1.value)) }
        default: return []
        }
    }
}

/// Answers one command with the given output (exit 0); any other command is not installed.
struct FixedOutputRunner: CommandRunner {
    let argv: [String]
    let stdout: [UInt8]
    func run(_ asked: [String], timeout: Double) -> CommandResult {
        asked == argv ? CommandResult(outcome: .exited(0), stdout: stdout) : CommandResult(outcome: .notFound)
    }
}

/// The machines whose nvidia-smi fails, and what the section must then say.
let failingNVIDIAMachines = [
    "gpu-nvidia-smi-exit9", "gpu-nvidia-smi-exit9-hwloc-power9-proc-driver-nvidia",
    "gpu-nvidia-smi-hang", "gpu-nvidia-smi-hang-hwloc-power9-proc-driver-nvidia",
]

@Suite("gpu.nvidia on recorded machines")
struct NVIDIAProbeTests {
    static let expected = ExpectedTable("nvidia")

    func optional(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }

    @Test("facts read off the files by hand (Fixtures/expected/nvidia.tsv)", arguments: expected.fixtures)
    func facts(fixture: String) throws {
        let row = Self.expected.row(fixture)
        let section = try GPUFixtures.run(NVIDIAProbe(), on: fixture, deadline: 1).section
        #expect(section.status == .ok || section.status == .partial, "\(section.issues)")
        let data = try #require(section.data)
        let gpus = try #require(data["gpus"]?.arrayValue)
        #expect(Int64(gpus.count) == Int64(row["gpu_count"] ?? ""))
        #expect(data["gpuCount"]?.intValue == Int64(row["gpu_count"] ?? ""))
        #expect(data["driverVersion"]?.stringValue == optional(row["driver_version"]))
        #expect(data["cudaDriverVersion"]?.stringValue == optional(row["cuda_driver_version"]))
        let first = gpus.first
        #expect(first?["productName"]?.stringValue == optional(row["first_gpu_product_name"]))
        #expect(first?["uuid"]?.stringValue == optional(row["first_gpu_uuid"]))
        #expect(first?["memoryTotalBytes"]?.intValue == optional(row["first_gpu_memory_total_bytes"]).flatMap { Int64($0) })
        // GPUs come sorted by normalised PCI address, each in the canonical form.
        let addresses = gpus.compactMap { $0["pciBusIdNormalized"]?.stringValue }
        #expect(addresses.count == gpus.count)
        #expect(addresses == addresses.sorted())
        for address in addresses {
            #expect(address == address.lowercased() && address.split(separator: ":").first?.count == 4, "\(address)")
        }
    }

    @Test("no value in the data looks like N/A, and no float anywhere", arguments: GPUFixtures.machines)
    func noMarkersOrFloats(fixture: String) throws {
        for section in [try GPUFixtures.run(NVIDIAProbe(), on: fixture, deadline: 1).section,
                        try GPUFixtures.run(AMDProbe(), on: fixture, deadline: 1).section] {
            guard let data = section.data else { continue }
            #expect(GPUFixtures.markerLikeValues(data).isEmpty, "\(GPUFixtures.markerLikeValues(data))")
            #expect(GPUFixtures.floats(data).isEmpty, "\(GPUFixtures.floats(data))")
            if let volatile = section.volatile { #expect(GPUFixtures.floats(volatile).isEmpty) }
        }
    }

    @Test("every real nvidia-smi XML parses without a value the parser does not understand",
          arguments: expected.fixtures.filter { !failingNVIDIAMachines.contains($0) })
    func everyValueUnderstood(fixture: String) throws {
        let section = try GPUFixtures.run(NVIDIAProbe(), on: fixture, deadline: 1).section
        #expect(section.data?["source"]?.stringValue == "nvidia-smi")
        #expect(!section.issues.contains { $0.message.contains("unexpected value") }, "\(section.issues)")
        // Only the abridged fixtures are partial, for what they lack.
        switch fixture {
        case "gpu-telegraf-a100-sxm4-v12":
            #expect(section.status == .partial)
            #expect(section.issues.map(\.message) == ["reports 4 attached GPUs but describes 1"])
        case "gpu-telegraf-gtx-1070-ti":
            #expect(section.status == .partial)
            #expect(section.issues.map(\.message) == ["no <driver_version> element"])
        default:
            #expect(section.status == .ok, "\(section.issues)")
        }
    }

    @Test("volatile values stay out of the data and go to volatile", arguments: expected.fixtures)
    func volatileSeparated(fixture: String) throws {
        let section = try GPUFixtures.run(NVIDIAProbe(), on: fixture, deadline: 1).section
        let keys = GPUFixtures.keys(try #require(section.data))
        for forbidden in ["temperatureC", "gpuTemp", "utilizationPercent", "fanSpeed", "powerDraw", "memoryUsedBytes",
                          "memoryFreeBytes", "processes", "timestamp", "clocks", "performanceState"] {
            #expect(!keys.contains(forbidden), "\(forbidden) in data")
        }
        if section.data?["source"]?.stringValue == "nvidia-smi" {
            let volatileGPUs = try #require(section.volatile?["gpus"]?.arrayValue)
            #expect(volatileGPUs.allSatisfy { $0["pciBusId"] != nil })
            #expect(volatileGPUs.contains { $0["temperatureC"]?.intValue != nil })
        }
    }

    @Test("A100 with MIG: mode, every MIG device with its instance ids and memory")
    func migDevices() throws {
        let data = try #require(try GPUFixtures.run(NVIDIAProbe(), on: "gpu-telegraf-a100-sxm4-v12").section.data)
        let gpu = try #require(data["gpus"]?.arrayValue?.first)
        #expect(gpu["migMode"]?["current"]?.stringValue == "Enabled")
        #expect(gpu["migMode"]?["pending"]?.stringValue == "Enabled")
        let devices = try #require(gpu["migDevices"]?.arrayValue)
        #expect(devices.compactMap { $0["gpuInstanceId"]?.intValue } == [3, 4, 5, 6])
        #expect(devices.allSatisfy { $0["computeInstanceId"]?.intValue == 0 })
        #expect(devices.allSatisfy { $0["memoryTotalBytes"]?.intValue == 19968 * 1_048_576 })
        #expect(devices.allSatisfy { $0["multiprocessorCount"]?.intValue == 14 })
        #expect(gpu["serial"]?.stringValue == "1650522003820")
        #expect(gpu["powerLimitMilliwatts"]?.intValue == 500_000)
        #expect(gpu["eccMode"]?["current"]?.stringValue == "Enabled")
        #expect(gpu["architecture"]?.stringValue == "Ampere")
        #expect(gpu["pciBusId"]?.stringValue == "00000000:01:00.0")
        #expect(gpu["pciBusIdNormalized"]?.stringValue == "0000:01:00.0")
        #expect(data["dtd"]?.stringValue == "nvsmi_device_v12.dtd")
    }

    @Test("vGPU guest: virtualisation mode, and N/A fields recorded as unavailable")
    func vgpuGuest() throws {
        let data = try #require(try GPUFixtures.run(NVIDIAProbe(), on: "gpu-telegraf-tesla_p4").section.data)
        let gpu = try #require(data["gpus"]?.arrayValue?.first)
        #expect(gpu["virtualizationMode"]?.stringValue == "VGPU")
        #expect(gpu["serial"] == nil)
        #expect(gpu["persistenceMode"] == nil)
        #expect(gpu["powerLimitMilliwatts"] == nil)
        #expect(gpu["unavailable"]?["serial"]?.stringValue == "N/A")
        #expect(gpu["unavailable"]?["persistenceMode"]?.stringValue == "N/A")
        #expect(gpu["unavailable"]?["powerLimitMilliwatts"]?.stringValue == "N/A")
        #expect(gpu["unavailable"]?["eccMode.current"]?.stringValue == "N/A")
        #expect(gpu["driverModel"]?.stringValue == "WDDM")
    }

    @Test("power limits in milliwatts across DTD versions", arguments: [
        ("gpu-telegraf-a10g", 300_000), ("gpu-telegraf-tesla-t4", 70_000), ("gpu-telegraf-rtx-3060-v12", 170_000),
        ("gpu-telegraf-rtx-3080-v13", 320_000), ("gpu-telegraf-gtx-1660-ti", 130_000),
        ("gpu-vertex-gtx-1070-ti-470.82.00", 180_000),
    ])
    func powerLimits(fixture: String, milliwatts: Int64) throws {
        let data = try #require(try GPUFixtures.run(NVIDIAProbe(), on: fixture).section.data)
        #expect(data["gpus"]?.arrayValue?.first?["powerLimitMilliwatts"]?.intValue == milliwatts)
    }

    @Test("two GPUs come sorted by bus address")
    func multiGPU() throws {
        let data = try #require(try GPUFixtures.run(NVIDIAProbe(), on: "gpu-telegraf-dual_2070-v13").section.data)
        let gpus = try #require(data["gpus"]?.arrayValue)
        #expect(gpus.compactMap { $0["pciBusIdNormalized"]?.stringValue } == ["0000:01:00.0", "0000:02:00.0"])
        #expect(gpus.compactMap { $0["boardId"]?.stringValue } == ["0x100", "0x200"])
    }

    @Test("a hanging nvidia-smi: the section comes back within the deadline, failed or partial with the reason")
    func hang() throws {
        let bare = try GPUFixtures.run(NVIDIAProbe(), on: "gpu-nvidia-smi-hang", deadline: 0.5)
        #expect(bare.seconds < 1.0, "took \(bare.seconds) s")
        #expect(bare.section.status == .failed)
        #expect(bare.section.issues.contains { $0.message.contains("timed out") }, "\(bare.section.issues)")

        let withProcfs = try GPUFixtures.run(
            NVIDIAProbe(), on: "gpu-nvidia-smi-hang-hwloc-power9-proc-driver-nvidia", deadline: 0.5)
        #expect(withProcfs.seconds < 1.0, "took \(withProcfs.seconds) s")
        #expect(withProcfs.section.status == .partial)
        #expect(withProcfs.section.issues.first?.source == "nvidia-smi -q -x")
        #expect(withProcfs.section.issues.first?.message.contains("timed out") == true)
        #expect(withProcfs.section.data?["source"]?.stringValue == "/proc/driver/nvidia")
        #expect(withProcfs.section.data?["gpus"]?.arrayValue?.count == 6)
    }

    @Test("nvidia-smi exit 9 (driver not loaded): absent without /proc/driver/nvidia, partial with it")
    func exit9() throws {
        let bare = try GPUFixtures.run(NVIDIAProbe(), on: "gpu-nvidia-smi-exit9").section
        #expect(bare.status == .absent)
        #expect(bare.data == nil)
        #expect(bare.issues.contains { $0.message.contains("couldn't communicate with the NVIDIA driver") }, "\(bare.issues)")

        let withProcfs = try GPUFixtures.run(NVIDIAProbe(), on: "gpu-nvidia-smi-exit9-hwloc-power9-proc-driver-nvidia")
            .section
        #expect(withProcfs.status == .partial)
        #expect(withProcfs.issues.first?.message.hasPrefix("exited with status 9") == true, "\(withProcfs.issues)")
        let data = try #require(withProcfs.data)
        #expect(data["gpus"]?.arrayValue?.compactMap { $0["pciBusIdNormalized"]?.stringValue } == [
            "0004:05:00.0", "0004:06:00.0", "0006:00:00.0", "0007:00:00.0", "0035:04:00.0", "0035:05:00.0",
        ])
    }

    @Test("no nvidia-smi and no /proc/driver/nvidia: absent", arguments: GPUFixtures.machines.filter {
        $0.contains("rocm") || $0.contains("amdgpu")
    })
    func absentWithoutDriver(fixture: String) throws {
        let section = try GPUFixtures.run(NVIDIAProbe(), on: fixture).section
        #expect(section.status == .absent)
        #expect(section.issues.first?.source == "nvidia-smi")
    }

    @Test("output that is not XML (a truncated real output): fallback, then failed with the parse error")
    func unparsable() throws {
        let fs = RootedFileSystem(root: GPUFixtures.directory + "/machines/gpu-telegraf-a10g")
        let full = try #require(try fs.readBytes("/commands/nvidia-smi-q-x.xml"))
        let truncated = Array(full.prefix(full.count / 2))
        let machine = Machine(fs: fs, commands: FixedOutputRunner(argv: NVIDIAProbe.command, stdout: truncated),
                              environment: [:], clock: FixedClock(secondsSinceEpoch: 0), root: fs.root)
        let section = GPUFixtures.run(NVIDIAProbe(), on: machine).section
        #expect(section.status == .failed)
        #expect(section.issues.contains { $0.message.contains("unparsable output") && $0.message.contains("truncated") },
                "\(section.issues)")
    }

    @Test("every gpu-* machine is covered by nvidia.tsv, amd.tsv or the failure cases")
    func coverage() {
        let covered = Set(Self.expected.fixtures + ExpectedTable("amd").fixtures + failingNVIDIAMachines
            + ["gpu-rocm-smi-empty"])
        #expect(GPUFixtures.machines.count >= 23)
        for machine in GPUFixtures.machines { #expect(covered.contains(machine), "\(machine) has no expectations") }
    }

    @Test("this machine (no NVIDIA GPU, no driver): absent")
    func live() {
        let machine = Machine.live()
        guard !machine.fs.exists("/proc/driver/nvidia") else { return }
        let section = GPUFixtures.run(NVIDIAProbe(), on: machine).section
        let hasSMI = shell("command -v nvidia-smi").status == 0
        #expect(section.status == .absent, "\(section.issues)")
        #expect(section.issues.contains { $0.message.contains(hasSMI ? "status" : "not installed") })
    }
}

@Suite("nvidia-smi XML parser")
struct NVIDIASMIXMLParserTests {
    @Test("PCI addresses in their canonical form", arguments: [
        ("00000000:3B:00.0", "0000:3b:00.0"), ("00000000:00:1E.0", "0000:00:1e.0"), ("0035:04:00.0", "0035:04:00.0"),
        ("0000:1E:00.0", "0000:1e:00.0"), ("3b:00.0", "0000:3b:00.0"), ("00010000:01:00.0", "10000:01:00.0"),
    ])
    func pciAddresses(text: String, normalized: String) {
        #expect(normalizePCIBusID(text) == normalized)
    }

    @Test("not PCI addresses", arguments: ["", "N/A", "0000:3b:00", "0000:3b:20.0", "0000:3b:00.8", "zz:00.0", "1:2:3:4.0"])
    func notPCIAddresses(text: String) {
        #expect(normalizePCIBusID(text) == nil)
    }

    @Test("amounts with units as integers, without floats")
    func units() {
        #expect(parseNVIDIASMIThousandths("250.00 W", unit: "W") == 250_000)
        #expect(parseNVIDIASMIThousandths("67.03 W", unit: "W") == 67_030)
        #expect(parseNVIDIASMIThousandths("912.500 mV", unit: "mV") == 912_500)
        #expect(parseNVIDIASMIThousandths("70 W", unit: "W") == 70_000)
        #expect(parseNVIDIASMIThousandths("N/A", unit: "W") == nil)
        #expect(parseNVIDIASMIThousandths("250.00 mW", unit: "W") == nil)
        #expect(parseNVIDIASMIThousandths("99999999999999999999 W", unit: "W") == nil)
        #expect(parseNVIDIASMIThousandths("9999999999999999 W", unit: "W") == nil)
        #expect(parseNVIDIASMIBytes("16384 MiB") == 17_179_869_184)
        #expect(parseNVIDIASMIBytes("0 MiB") == 0)
        #expect(parseNVIDIASMIBytes("4000 KB/s") == nil)
        #expect(parseNVIDIASMIInteger("39 C", unit: "C") == 39)
        #expect(parseNVIDIASMIInteger("0 %", unit: "%") == 0)
    }

    @Test("nvidia-smi's words for no value", arguments: [
        ("N/A", true), ("[N/A]", true), ("Unknown Error", true), ("[Unknown Error]", true), ("Not Supported", true),
        ("[Not Supported]", true), ("Requested functionality has been deprecated", true), ("Enabled", false),
        ("0x100", false), ("None", false), ("GPU-513536b6-7d19-9063-b049-1e69664bb298", false),
    ])
    func markers(text: String, isMarker: Bool) {
        #expect(isNVIDIASMIUnavailableMarker(text) == isMarker)
    }

    @Test("XML: entities, attributes, self-closing elements, DOCTYPE, comments, CDATA")
    func xmlSyntax() throws {
        // Synthetic XML syntax, not an nvidia-smi output: every construct the tolerant parser handles.
        let document = try parseXMLDocument("""
            <?xml version="1.0" ?>
            <!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">
            <nvidia_smi_log>
            <!-- comment -->
            <gpu id="00000000:01:00.0">
            <process_name>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#65;&#x42; &unknown;</process_name>
            <processes />
            <note><![CDATA[<raw>]]></note>
            </gpu>
            </nvidia_smi_log>
            """)
        #expect(document.doctypeSystemID == "nvsmi_device_v12.dtd")
        let gpu = try #require(document.root.child("gpu"))
        #expect(gpu.attributes["id"] == "00000000:01:00.0")
        #expect(gpu.child("process_name")?.text == "a & b <c> \"d\" 'e' AB &unknown;")
        #expect(gpu.child("processes")?.children.isEmpty == true)
        #expect(gpu.child("note")?.text == "<raw>")
    }

    @Test("XML errors: truncated, mismatched, empty", arguments: [
        "<nvidia_smi_log><gpu>", "<a><b></a></b>", "", "<a", "text only", "<a></a><b></b>",
    ])
    func xmlErrors(text: String) {
        #expect(throws: XMLParseError.self) { try parseXMLDocument(text) }
    }

    @Test("every real nvidia-smi XML parses, and each truncation of it is an error",
          arguments: NVIDIAProbeTests.expected.fixtures.filter { !failingNVIDIAMachines.contains($0) })
    func realFiles(fixture: String) throws {
        let fs = RootedFileSystem(root: GPUFixtures.directory + "/machines/" + fixture)
        let text = try #require(try fs.read("/commands/nvidia-smi-q-x.xml"))
        let log = try parseNVIDIASMIXML(text)
        #expect(!log.gpus.isEmpty)
        #expect(log.problems.isEmpty, "\(log.problems)")
        let bytes = Array(text.utf8)
        for fraction in [0.1, 0.5, 0.9] {
            let prefix = String(decoding: bytes.prefix(Int(Double(bytes.count) * fraction)), as: UTF8.self)
            #expect(throws: XMLParseError.self) { try parseNVIDIASMIXML(prefix) }
        }
    }
}
