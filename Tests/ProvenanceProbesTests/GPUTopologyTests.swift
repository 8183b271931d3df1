import Foundation
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

/// A recorded machine whose `nvidia-smi topo -m` answers with a reference-data file (read in place).
func topologyMachine(_ file: String?, exitCode: Int = 0, hang: Bool = false) -> ReferenceMachine {
    let machine = ReferenceMachine("topo")
    var entry = "\"argv\": [\"nvidia-smi\", \"topo\", \"-m\"], \"exitCode\": \(exitCode)"
    if let file {
        machine.link("/commands/topo.txt", to: "\(ReferenceData.path)/nvidia-smi-text/\(file)")
        entry += ", \"stdout\": \"topo.txt\""
    }
    if hang { entry = "\"argv\": [\"nvidia-smi\", \"topo\", \"-m\"], \"hang\": true" }
    machine.write("/commands/commands.json", "{\"commands\": [{\(entry)}]}\n")
    return machine
}

@Suite("gpu.topology: nvidia-smi topo -m on real outputs (reference data, read in place)",
       .enabled(if: ReferenceData.available, Comment(rawValue: ReferenceData.missing)))
struct GPUTopologyTests {
    func section(_ machine: ReferenceMachine) throws -> (Section, GPUTopologySection?) {
        let section = try machine.collect(NVIDIATopologyProbe())
        let model = try section.data.map { try JSONDecoder().decode(GPUTopologySection.self, from: Data(CanonicalJSON.serialize($0))) }
        return (section, model)
    }

    /// The cells of the matrix as awk splits them (an independent reading of the same file).
    func awkCell(_ file: String, row: String, column: Int) -> String {
        shell("sed 's/\\x1b\\[[0-9;]*m//g' '\(ReferenceData.path)/nvidia-smi-text/\(file)' | awk -F'\\t' '$1 == \"\(row)\" { gsub(/^ +| +$/, \"\", $\(column + 1)); print $\(column + 1) }'").output.trimmed
    }

    @Test("8× H200 with 10 NICs: every GPU pair NV18, NIC distances, CPU and NUMA affinity, NIC names")
    func h200() throws {
        let file = "glm-serving-8xH200-topo-m.txt"
        let (section, topology) = try section(topologyMachine(file))
        #expect(section.status == .ok, "\(section.issues)")
        let model = try #require(topology)
        #expect(model.devices.map(\.name) == (0..<8).map { "GPU\($0)" } + (0..<10).map { "NIC\($0)" })
        #expect(model.links.count == 18 * 17 / 2)
        let gpuPairs = model.links.filter { $0.from.hasPrefix("GPU") && $0.to.hasPrefix("GPU") }
        #expect(gpuPairs.count == 28 && gpuPairs.allSatisfy { $0.connection == "NV18" && $0.nvlinks == 18 })
        // Every link is the cell awk reads at its row and column.
        let columns = model.devices.map(\.name)
        for link in model.links {
            let column = try #require(columns.firstIndex(of: link.to)) + 1
            #expect(link.connection == awkCell(file, row: link.from, column: column), "\(link.from)–\(link.to)")
        }
        let gpu0 = try #require(model.devices.first)
        #expect(gpu0.cpuAffinity == "0-63,128-191" && gpu0.numaAffinity == "0" && gpu0.gpuNUMAID == nil)
        #expect(model.devices[4].cpuAffinity == "64-127,192-255" && model.devices[4].numaAffinity == "1")
        #expect(model.links.first { $0.from == "GPU0" && $0.to == "NIC3" }?.connection == "PIX")
        #expect(model.links.first { $0.from == "GPU0" && $0.to == "NIC6" }?.connection == "SYS")
        let nics = model.devices.filter { $0.kind == "nic" }
        #expect(nics.map { $0.deviceName ?? "" } == (0..<10).map { "mlx5_\($0)" })
        #expect(nics.allSatisfy { $0.cpuAffinity == nil && $0.numaAffinity == nil })
        #expect(model.summary == "8 GPUs, 10 NICs, 28 NVLink pairs")
        // nvidia-smi underlines the header with terminal escapes: none reach the data.
        #expect(!(String(decoding: CanonicalJSON.serialize(try #require(section.data)), as: UTF8.self).contains("\u{1B}")))
    }

    @Test("every single-GPU topo -m of the reference data (drivers 590–610): one GPU, its CPU affinity")
    func singleGPU() throws {
        let files = try #require(try RootedFileSystem().list(ReferenceData.path + "/nvidia-smi-text"))
            .filter { RootedFileSystem().exists("\(ReferenceData.path)/nvidia-smi-text/\($0)/topo-m.txt") }
        #expect(files.count >= 8)
        for directory in files {
            let file = "\(directory)/topo-m.txt"
            let (section, topology) = try section(topologyMachine(file))
            #expect(section.status == .ok, "\(file): \(section.issues)")
            let model = try #require(topology, "\(file)")
            #expect(model.devices.count == 1 && model.links.isEmpty, "\(file)")
            #expect(model.devices.first?.cpuAffinity == awkCell(file, row: "GPU0", column: 2), "\(file)")
            #expect(model.devices.first?.numaAffinity == "0" && model.devices.first?.gpuNUMAID == nil, "\(file)")
        }
    }

    @Test("no driver (exit 9) is absent; a hang fails with the reason; not installed is absent")
    func failures() throws {
        let (noDriver, _) = try section(topologyMachine(nil, exitCode: 9))
        #expect(noDriver.status == .absent)
        let (hung, _) = try section(topologyMachine(nil, hang: true))
        #expect(hung.status == .failed)
        let empty = ReferenceMachine("topo-none")
        empty.write("/commands/commands.json", "{\"commands\": []}\n")
        #expect(try empty.collect(NVIDIATopologyProbe()).status == .absent)
    }

    @Test("off by default; capture --root --probe gpu.topology records it")
    func optIn() throws {
        let machine = topologyMachine("glm-serving-8xH200-topo-m.txt")
        let plain = shell("'\(Project.executable)' capture --root '\(machine.root)' -o - 2>/dev/null", timeout: 120)
        let manifest = try JSONParser.parse(plain.output)
        #expect(manifest["sections"]?["gpu.topology"] == nil || manifest["sections"]?["gpu.topology"]?["status"]?.stringValue == "skipped")
        let opted = shell("'\(Project.executable)' capture --root '\(machine.root)' --probe gpu.topology -o - 2>/dev/null", timeout: 120)
        let withTopology = try JSONParser.parse(opted.output)
        let section = withTopology["sections"]?["gpu.topology"]
        #expect(section?["status"]?.stringValue == "ok", "\(opted.output.prefix(300))")
        #expect(section?["data"]?["devices"]?.arrayValue?.count == 18)
        let written = machine.root + ".json"
        defer { _ = shell("rm -f '\(written)'") }
        _ = shell("'\(Project.executable)' capture --root '\(machine.root)' --probe gpu.topology -o '\(written)' 2>/dev/null", timeout: 120)
        let render = shell("'\(Project.executable)' render '\(written)'", timeout: 60).output
        for text in ["GPU topology", "| Devices | 8 GPUs, 10 NICs, 28 NVLink pairs |", "| GPU–GPU links | NV18 × 28 |",
                     "GPU0 GPU1 GPU2 GPU3: NUMA 0, CPUs 0-63,128-191; GPU4 GPU5 GPU6 GPU7: NUMA 1, CPUs 64-127,192-255"] {
            #expect(render.contains(text), "render lacks '\(text)': \(render)")
        }
    }

    /// No GPU here: a stand-in `nvidia-smi` on PATH prints the real recorded matrix and counts its
    /// starts, so the cache (keyed by the executable's identity and the boot id) is what is tested.
    @Test("live: the parsed matrix is cached until nvidia-smi changes")
    func cache() throws {
        let home = ReferenceMachine("topo-cache")
        let directory = home.root
        home.write("/bin/nvidia-smi", "#!/bin/sh\necho started >> '\(directory)/starts'\ncat '\(ReferenceData.path)/nvidia-smi-text/glm-serving-8xH200-topo-m.txt'\n")
        _ = shell("chmod +x '\(directory)/bin/nvidia-smi'")
        var environment = processEnvironment()
        environment["PATH"] = "\(directory)/bin:/usr/bin:/bin"
        environment["XDG_CACHE_HOME"] = directory + "/cache"
        func capture() throws -> GPUTopologySection {
            let machine = Machine(fs: RootedFileSystem(root: "/"), commands: LiveCommandRunner(environment: environment),
                                  environment: environment, clock: FixedClock(secondsSinceEpoch: 0), root: nil)
            let section = Capture.collect(NVIDIATopologyProbe(cache: CommandCache(environment: environment)),
                                          ProbeContext(machine: machine, commandTimeout: 5, deadline: monotonicSeconds() + 5))
            #expect(section.status == .ok, "\(section.issues)")
            return try JSONDecoder().decode(GPUTopologySection.self, from: Data(CanonicalJSON.serialize(try #require(section.data))))
        }
        func starts() -> Int { Int(shell("wc -l < '\(directory)/starts'").output.trimmed) ?? 0 }
        let first = try capture()
        let second = try capture()
        #expect(first == second && first.devices.count == 18)
        #expect(starts() == 1)
        _ = shell("sleep 0.01; touch '\(directory)/bin/nvidia-smi'")
        #expect(try capture() == first)
        #expect(starts() == 2)
    }

    @Test("escapes and control bytes are dropped, tabs kept")
    func escapes() {
        #expect(stripTerminalEscapes("\t\u{1B}[4mGPU0\tCPU Affinity\u{1B}[0m\u{07}") == "\tGPU0\tCPU Affinity")
    }
}
