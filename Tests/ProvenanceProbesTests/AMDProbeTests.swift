import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbes

@Suite("gpu.amd on recorded machines")
struct AMDProbeTests {
    static let expected = ExpectedTable("amd")

    func optional(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }

    @Test("facts read off the files by hand (Fixtures/expected/amd.tsv)", arguments: expected.fixtures)
    func facts(fixture: String) throws {
        let row = Self.expected.row(fixture)
        let section = try GPUFixtures.run(AMDProbe(), on: fixture, deadline: 1).section
        let data = try #require(section.data, "\(section.status) \(section.issues)")
        let cards = try #require(data["cards"]?.arrayValue)
        #expect(Int64(cards.count) == Int64(row["card_count"] ?? ""))
        #expect(data["cardCount"]?.intValue == Int64(row["card_count"] ?? ""))
        #expect(cards.first?["series"]?.stringValue == optional(row["first_card_series"]))
        #expect(cards.first?["vramTotalBytes"]?.intValue == optional(row["first_card_vram_bytes"]).flatMap { Int64($0) })
        #expect(data["driverVersion"]?.stringValue == optional(row["driver_version"]))
        let addresses = cards.compactMap { $0["pciBusNormalized"]?.stringValue }
        #expect(addresses.count == cards.count)
        #expect(addresses == addresses.sorted())
        #expect(addresses.allSatisfy { $0 == $0.lowercased() })
        if data["source"]?.stringValue == "rocm-smi" {
            #expect(section.status == .ok, "\(section.issues)")
            #expect(section.volatile?["cards"]?.arrayValue?.count == cards.count)
        }
    }

    @Test("rocm-smi 4.3 and 6.1 describe the same RX 6700 XT under different key names")
    func keyNamesAcrossReleases() throws {
        let old = try #require(try GPUFixtures.run(AMDProbe(), on: "gpu-telegraf-rx6700xt_rocm430").section.data)
        let new = try #require(try GPUFixtures.run(AMDProbe(), on: "gpu-telegraf-rx6700xt_rocm612").section.data)
        let a = try #require(old["cards"]?.arrayValue?.first)
        let b = try #require(new["cards"]?.arrayValue?.first)
        for field in ["deviceId", "vbiosVersion", "pciBusNormalized", "vramTotalBytes", "memoryVendor", "numaNode"] {
            #expect(a[field] != nil && a[field] == b[field], "\(field): \(String(describing: a[field])) vs \(String(describing: b[field]))")
        }
        #expect(a["deviceId"]?.stringValue == "0x73df")  // "GPU ID" in 4.3, "Device ID" in 6.1
        #expect(b["deviceName"]?.stringValue == "Navi 22 [Radeon RX 6700/6700 XT / 6800M]")
        #expect(b["gfxVersion"]?.stringValue == "gfx1031")
        #expect(a["unavailable"]?["uniqueId"]?.stringValue == "N/A")
        #expect(a["uniqueId"] == nil)
    }

    @Test("six MI100s sorted by PCI address, card names kept")
    func multiGPU() throws {
        let data = try #require(try GPUFixtures.run(AMDProbe(), on: "gpu-telegraf-mi100_rocm571").section.data)
        let cards = try #require(data["cards"]?.arrayValue)
        #expect(cards.compactMap { $0["pciBusNormalized"]?.stringValue } == [
            "0000:1e:00.0", "0000:22:00.0", "0000:3f:00.0", "0000:43:00.0", "0000:46:00.0", "0000:49:00.0",
        ])
        #expect(cards.compactMap { $0["card"]?.stringValue } == ["card0", "card1", "card2", "card3", "card4", "card5"])
        #expect(cards.first?["pciBus"]?.stringValue == "0000:1E:00.0")
        #expect(cards.allSatisfy { $0["vbiosVersion"]?.stringValue == "113-D3430400-037" })
    }

    @Test("rocm-smi prints nothing and exits 0 (no amdgpu driver): absent")
    func emptyOutput() throws {
        let section = try GPUFixtures.run(AMDProbe(), on: "gpu-rocm-smi-empty").section
        #expect(section.status == .absent)
        #expect(section.issues.contains { $0.source == "rocm-smi" && $0.message.contains("empty output") })
    }

    @Test("no rocm-smi but an amdgpu card in sysfs: partial, from sysfs")
    func sysfsFallback() throws {
        let section = try GPUFixtures.run(AMDProbe(), on: "gpu-procfs-drm-card0-amdgpu-vega10").section
        #expect(section.status == .partial)
        #expect(section.issues.map(\.message) == ["not installed"])
        let data = try #require(section.data)
        #expect(data["source"]?.stringValue == "sysfs")
        let card = try #require(data["cards"]?.arrayValue?.first)
        #expect(card["card"]?.stringValue == "card0")
        #expect(card["pciVendorId"]?.stringValue == "0x1002")
        #expect(card["pciDeviceId"]?.stringValue == "0x687f")
        #expect(card["pciSubsystemVendorId"]?.stringValue == "0x1043")
        #expect(card["pciSubsystemDeviceId"]?.stringValue == "0x04c4")
        #expect(card["vbiosVersion"]?.stringValue == "115-D050PIL-100")
        #expect(card["uniqueId"]?.stringValue == "0123456789abcdef")
        #expect(card["pciBusNormalized"]?.stringValue == "0000:09:00.0")
        #expect(section.volatile == nil)
    }

    @Test("no rocm-smi and no amdgpu card: absent", arguments: GPUFixtures.machines.filter {
        !$0.contains("rocm") && !$0.contains("amdgpu") && !$0.contains("mi100") && !$0.contains("vega")
    })
    func absentWithoutCard(fixture: String) throws {
        let section = try GPUFixtures.run(AMDProbe(), on: fixture).section
        #expect(section.status == .absent)
        #expect(section.issues.last?.source == "rocm-smi")
    }

    @Test("output that is not JSON (a truncated real output) and no card: failed with the parse error")
    func unparsable() throws {
        let fs = RootedFileSystem(root: GPUFixtures.directory + "/machines/gpu-telegraf-vega-10-XT")
        let full = try #require(try fs.readBytes("/commands/rocm-smi.json"))
        let machine = Machine(fs: fs, commands: FixedOutputRunner(argv: AMDProbe.command, stdout: Array(full.prefix(900))),
                              environment: [:], clock: FixedClock(secondsSinceEpoch: 0), root: fs.root)
        let section = GPUFixtures.run(AMDProbe(), on: machine).section
        #expect(section.status == .failed)
        #expect(section.issues.contains { $0.message.contains("unparsable output") }, "\(section.issues)")
    }

    @Test("this machine (no AMD GPU): absent")
    func live() {
        let machine = Machine.live()
        let cards = ((try? machine.fs.list("/sys/class/drm")) ?? nil ?? []).filter { $0.hasPrefix("card") }
        guard cards.isEmpty else { return }
        let section = GPUFixtures.run(AMDProbe(), on: machine).section
        #expect(section.status == .absent, "\(section.issues)")
    }
}

@Suite("rocm-smi JSON parser")
struct ROCmSMIJSONParserTests {
    @Test("every real rocm-smi JSON parses without problems",
          arguments: ["gpu-telegraf-mi100_rocm571", "gpu-telegraf-rx6700xt_rocm430", "gpu-telegraf-rx6700xt_rocm612",
                      "gpu-telegraf-vega-10-XT"])
    func realFiles(fixture: String) throws {
        let fs = RootedFileSystem(root: GPUFixtures.directory + "/machines/" + fixture)
        let text = try #require(try fs.read("/commands/rocm-smi.json"))
        let report = try parseROCmSMIJSON(text)
        #expect(!report.cards.isEmpty)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.cards.allSatisfy { $0.vbiosVersion != nil && $0.pciBusNormalized != nil && $0.vramTotalBytes != nil })
        #expect(throws: ROCmSMIParseError.self) { try parseROCmSMIJSON(String(text.prefix(text.count / 2))) }
    }

    @Test("DRM card names, not connectors or render nodes", arguments: [
        ("card0", true), ("card12", true), ("card0-DP-1", false), ("renderD128", false), ("card", false), ("system", false),
    ])
    func cardNames(name: String, isCard: Bool) {
        #expect(isDRMCardName(name) == isCard)
    }
}
