import Foundation
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

/// "Framework CUDA newer than the driver's CUDA" on machines built at test time from a real
/// recorded `nvidia-smi -q -x` and a real torch venv (reference data, read in place). No fixture
/// machine has both an NVIDIA driver and a framework.
@Suite("framework CUDA newer than the driver's (real nvidia-smi XML + real torch venv)",
       .enabled(if: ReferenceData.available, Comment(rawValue: ReferenceData.missing)))
struct CUDADriverCheckTests {
    func machine(xml: String, venv: String, python: String) -> ReferenceMachine {
        let machine = referenceVenv(venv, python: python)
        machine.link("/commands/nvidia-smi-q-x.xml", to: "\(ReferenceData.path)/nvidia-smi-xml/\(xml)")
        machine.write("/commands/commands.json",
                      "{\"commands\": [{\"argv\": [\"nvidia-smi\", \"-q\", \"-x\"], \"stdout\": \"nvidia-smi-q-x.xml\"}]}\n")
        return machine
    }

    func conflicts(_ machine: ReferenceMachine) throws -> [CUDAConflict] {
        let cudaData = try #require(try machine.collect(CUDAProbe()).data)
        let nvidiaData = try #require(try machine.collect(NVIDIAProbe()).data)
        let cuda = try JSONDecoder().decode(CUDASection.self, from: Data(CanonicalJSON.serialize(cudaData)))
        let nvidia = try JSONDecoder().decode(NVIDIASection.self, from: Data(CanonicalJSON.serialize(nvidiaData)))
        return CUDAConflict.frameworkCUDANewerThanDriver(cuda.frameworks ?? [], driverCUDA: nvidia.cudaDriverVersion)
    }

    @Test("torch cu124 on drivers for CUDA 11.7 (will not run), 12.0 (minor compatibility), 12.8 (fine)", arguments: [
        ("telegraf-a10g.xml", "will not run: CUDA 12 needs a driver for CUDA 12.0 or newer"),
        ("telegraf-rtx-3090-v12.xml", "runs only through CUDA minor version compatibility"),
        ("telegraf-rtx-3060-v12.xml", nil as String?),
    ])
    func torch124(xml: String, expected: String?) throws {
        let found = try conflicts(machine(xml: xml, venv: "venv-torch2.5.1-cu124-py310-linux", python: "python3.10"))
        if let expected {
            #expect(found.count == 1 && found[0].kind == "framework-cuda-newer-than-driver" && found[0].framework == "torch")
            #expect(found.first?.message.contains(expected) == true, "\(found)")
            #expect(found.first?.message.contains("torch 2.5.1+cu124 is built with CUDA 12.4") == true, "\(found)")
        } else {
            #expect(found.isEmpty, "\(found)")
        }
    }

    @Test("torch cu128 on a CUDA 13.2 driver: none")
    func newerDriver() throws {
        #expect(try conflicts(machine(xml: "telegraf-rtx-3080-v13.xml", venv: "venv-torch2.11.0-cu128-py312-linux", python: "python3.12")).isEmpty)
    }

    @Test("capture --root then render shows the conflict among the CUDA conflicts")
    func rendered() throws {
        let built = machine(xml: "telegraf-a10g.xml", venv: "venv-torch2.5.1-cu124-py310-linux", python: "python3.10")
        let manifest = built.root + "/../" + URL(fileURLWithPath: built.root).lastPathComponent + ".json"
        defer { _ = shell("rm -f '\(manifest)'") }
        let capture = shell("'\(Project.executable)' capture --root '\(built.root)' -o '\(manifest)' --timeout 5 2>&1", timeout: 120)
        try #require(capture.status == 0, "\(capture.output)")
        let render = shell("'\(Project.executable)' render '\(manifest)'", timeout: 60)
        #expect(render.output.contains("| CUDA conflict | torch 2.5.1+cu124 is built with CUDA 12.4, newer than the driver's CUDA 11.7"),
                "\(render.output)")
    }
}
