import Testing
@testable import ProvenanceCore

/// A node's manifest: a kernel, a CPU with a per-node serial, an environment and a GPU list.
private func node(_ index: Int, kernel: String = "6.1.0-13-amd64", microcode: String = "0xf0",
                  mylab: String? = "1", driver: String = "535.104.05") -> JSONValue {
    var environment: [String: JSONValue] = ["LANG": "C.UTF-8"]
    if let mylab { environment["MYLAB_MODE"] = .string(mylab) }
    var document = manifest([
        "os": section(["kernel": ["release": .string(kernel)], "architecture": "x86_64"]),
        "cpu": section(["microcode": .string(microcode), "serial": .string("SN-\(index)"), "flags": ["avx", "sse2"]]),
        "environment": section(["variables": .object(environment)]),
        "gpu.nvidia": section(["driverVersion": .string(driver), "gpus": [
            ["pciBusIdNormalized": "0000:3b:00.0", "uuid": .string("GPU-\(index)-a"), "productName": "A100"],
        ]]),
        "pci": section([:], status: "ok"),
    ]).objectValue!
    document["hostName"] = .string("node\(index)")
    return .object(document)
}

@Suite("Audit across nodes")
struct AuditTests {
    @Test("1,000 nodes with planted outliers: exactly those are reported, identity fields ignored")
    func planted() {
        var builder = AuditBuilder()
        for index in 0..<1000 {
            builder.add(node(index,
                             kernel: [17, 503].contains(index) ? "6.1.0-99-amd64" : "6.1.0-13-amd64",
                             microcode: index == 999 ? "0xf2" : "0xf0",
                             mylab: index == 42 ? nil : "1"),
                        fallbackName: "file\(index)")
        }
        let report = builder.finish()
        #expect(report.nodeCount == 1000)
        #expect(report.differences.map(\.path) == [
            "environment.variables.MYLAB_MODE", "os.kernel.release", "cpu.microcode",
        ])
        let byPath = Dictionary(uniqueKeysWithValues: report.differences.map { ($0.path, $0) })
        #expect(byPath["os.kernel.release"]?.majority.value == "6.1.0-13-amd64")
        #expect(byPath["os.kernel.release"]?.majority.nodes.count == 998)
        #expect(byPath["os.kernel.release"]?.outliers.map(\.nodes) == [["node17", "node503"]])
        #expect(byPath["os.kernel.release"]?.outliers.map(\.value) == ["6.1.0-99-amd64"])
        #expect(byPath["cpu.microcode"]?.outliers.map(\.nodes) == [["node999"]])
        #expect(byPath["environment.variables.MYLAB_MODE"]?.outliers.first?.value == nil)
        #expect(byPath["environment.variables.MYLAB_MODE"]?.outliers.map(\.nodes) == [["node42"]])
        // Groups: the 996 alike, then {17, 503}, {42}, {999}.
        #expect(report.groups.map(\.nodes.count) == [996, 2, 1, 1])
        #expect(Set(report.groups.dropFirst().map { $0.nodes.sorted() }) == [["node17", "node503"], ["node42"], ["node999"]])
    }

    @Test("all alike: agree, one group; a node without hostName is named by its file")
    func agree() {
        var builder = AuditBuilder()
        for index in 0..<5 { builder.add(node(index), fallbackName: "f\(index)") }
        var anonymous = node(5).objectValue!
        anonymous["hostName"] = nil
        builder.add(.object(anonymous), fallbackName: "f5")
        let report = builder.finish()
        #expect(report.agrees)
        #expect(report.groups.count == 1)
        #expect(report.groups[0].nodes.contains("f5"))
        #expect(report.text().hasPrefix("agree: all 6 nodes have the same environment"))
    }

    @Test("a 2–2 split has no majority: text says tied and names every node, JSON says tie")
    func tie() {
        var builder = AuditBuilder()
        for index in 0..<4 { builder.add(node(index, kernel: index < 2 ? "6.1.0-13-amd64" : "6.1.0-18-amd64"), fallbackName: "") }
        builder.add(node(4, driver: "550.54.14"), fallbackName: "")
        builder.add(node(5), fallbackName: "")
        let report = builder.finish()
        let kernel = report.differences.first { $0.path == "os.kernel.release" }
        #expect(kernel?.isTie == false)  // 4 of 6 against 2
        var tied = AuditBuilder()
        for index in 0..<4 { tied.add(node(index, kernel: index % 2 == 0 ? "6.1.0-13-amd64" : "6.1.0-18-amd64"), fallbackName: "") }
        let tie = tied.finish()
        #expect(tie.differences.map(\.path) == ["os.kernel.release"])
        #expect(tie.differences.first?.isTie == true)
        let text = tie.text()
        #expect(!text.contains("majority") && !text.contains("outlier"), "\(text)")
        #expect(text.contains("  tied      \"6.1.0-13-amd64\"  (2 of 4): node0, node2"), "\(text)")
        #expect(text.contains("  tied      \"6.1.0-18-amd64\"  (2 of 4): node1, node3"), "\(text)")
        #expect(tie.json()["differences"]?.arrayValue?.first?["tie"] == true)
        #expect(report.json()["differences"]?.arrayValue?.allSatisfy { $0["tie"] == nil } == true)
    }

    @Test("a policy selects what matters: lenient ignores the kernel; strict ignores serials and UUIDs")
    func policy() {
        var lenient = AuditBuilder(policy: .lenient)
        var strict = AuditBuilder(policy: .strict)
        for index in 0..<4 {
            let manifest = node(index, kernel: index == 3 ? "5.10" : "6.1")
            lenient.add(manifest, fallbackName: "")
            strict.add(manifest, fallbackName: "")
        }
        #expect(lenient.finish().agrees)
        #expect(strict.finish().differences.map(\.path) == ["os.kernel.release"])
    }

    @Test("a section missing from one manifest makes its fields absent there")
    func missingSection() {
        var builder = AuditBuilder()
        builder.add(node(1), fallbackName: "")
        var partial = node(3).objectValue!
        var sections = partial["sections"]!.objectValue!
        sections["gpu.nvidia"] = nil
        partial["sections"] = .object(sections)
        builder.add(.object(partial), fallbackName: "")
        builder.add(node(5), fallbackName: "")
        var skipped = node(7).objectValue!
        sections = skipped["sections"]!.objectValue!
        sections["gpu.nvidia"] = ["status": "skipped", "probeVersion": "1.0.0", "issues": [], "durationMs": 0]
        skipped["sections"] = .object(sections)
        builder.add(.object(skipped), fallbackName: "")
        var report = builder.finish()
        // The skipped node differs in status only.
        let status = report.differences.removeLast()
        #expect(status.path == "gpu.nvidia.status")
        #expect(Set(status.outliers.map(\.nodes)) == [["node3"], ["node7"]])
        #expect(report.differences.map(\.path) == ["gpu.nvidia.driverVersion", "gpu.nvidia.gpus[0000:3b:00.0].pciBusIdNormalized",
                                                    "gpu.nvidia.gpus[0000:3b:00.0].productName"])
        #expect(report.differences.allSatisfy { $0.outliers.first?.nodes == ["node3"] && $0.outliers.first?.value == nil })
    }

    @Test("compare: only fields distributed differently in A and B")
    func compare() {
        var builder = AuditBuilder()
        // A: 3 nodes on 535, one odd microcode; B: 3 nodes on 550, the same odd microcode share.
        for index in 0..<3 { builder.add(node(index, microcode: index == 0 ? "0xf2" : "0xf0"), fallbackName: "", side: 0) }
        for index in 3..<6 {
            builder.add(node(index, microcode: index == 3 ? "0xf2" : "0xf0", driver: "550.54.14"), fallbackName: "", side: 1)
        }
        let report = builder.finish(compare: true)
        #expect(report.differences.map(\.path) == ["gpu.nvidia.driverVersion"])
        let shares = report.differences[0].shares
        #expect(Set(shares.map { "\($0.value!.stringValue!) \($0.sideCounts!)" }) == ["535.104.05 [3, 0]", "550.54.14 [0, 3]"])
        #expect(report.text(sideNames: ["old", "new"]).contains("  old: \"535.104.05\" ×3"))
    }

    @Test("from bytes: the same report as from parsed manifests, cut identity values included")
    func bytes() throws {
        // A policy that makes the CPU serial matter before the strict rules ignore every serial:
        // the serial cannot be cut out of the cpu section's bytes there.
        let serials = Policy(name: "serials", description: "", rules: [Policy.Entry("cpu.serial", .equal)] + Policy.strict.rules,
                             fallback: Policy.strict.fallback)
        // Per-node GPU UUIDs are cut (the bus id names the GPUs); in a list named by UUIDs
        // alone, the UUIDs shape the paths and cannot be cut.
        for (policy, namedByUUID) in [(Policy.strict, false), (serials, false), (Policy.strict, true)] {
            var fromValues = AuditBuilder(policy: policy)
            var fromBytes = AuditBuilder(policy: policy)
            for index in 0..<60 {
                var manifest = node(index, kernel: index % 20 == 3 ? "6.1.0-99-amd64" : "6.1.0-13-amd64",
                                    microcode: index == 41 ? "0xf2" : "0xf0")
                // Serials of other types and an object where a plain value was.
                let serial: JSONValue? = switch index {
                case 10: .int(12345)
                case 11: .null
                case 12: ["board": "x"]
                case 13: nil
                default: .string("SN-\(index)")
                }
                var sections = manifest["sections"]!.objectValue!
                if namedByUUID {
                    sections["links"] = section(["links": [["uuid": .string("L-\(index)"), "speed": "25 GT/s"]]])
                }
                var cpu = sections["cpu"]!.objectValue!
                var data = cpu["data"]!.objectValue!
                data["serial"] = serial
                cpu["data"] = .object(data)
                sections["cpu"] = .object(cpu)
                var document = manifest.objectValue!
                document["sections"] = .object(sections)
                manifest = .object(document)
                fromValues.add(manifest, fallbackName: "")
                var bytes = String(decoding: CanonicalJSON.serialize(manifest), as: UTF8.self)
                // Space before a value changes nothing, nor lets an object pass for a plain value.
                if index == 12 { bytes = bytes.replacing(#""serial":{"#, with: #""serial": {"#) }
                try fromBytes.add(bytes: Array(bytes.utf8), fallbackName: "")
            }
            let report = fromBytes.finish()
            #expect(report == fromValues.finish(), "policy \(policy.name)")
            let paths = report.differences.map(\.path)
            #expect(paths.contains("os.kernel.release") && paths.contains("cpu.microcode"))
            #expect(paths.contains("cpu.serial.board"))
            // Strict: only the odd serials' shapes split groups. Serials: every node differs.
            #expect(paths.contains("cpu.serial") == (policy.name == "serials"))
            #expect(paths.contains("links.links[L-7].speed") == namedByUUID)
            #expect(report.groups.count == (policy.name == "serials" || namedByUUID ? 60 : 4))
        }
    }

    @Test("from bytes: a cut value must still be valid JSON")
    func badCutValue() throws {
        var builder = AuditBuilder()
        let good = Array(String(decoding: CanonicalJSON.serialize(node(1)), as: UTF8.self).utf8)
        try builder.add(bytes: good, fallbackName: "")
        for bad in [#""SN-\q""#, "12x", "nul", #""SN-"#] {
            let text = String(decoding: CanonicalJSON.serialize(node(2)), as: UTF8.self)
                .replacing(#""SN-2""#, with: bad)
            #expect(throws: ManifestReader.Error.self, "\(bad)") { try builder.add(bytes: Array(text.utf8), fallbackName: "") }
        }
        #expect(builder.count == 1)
    }

    @Test("HTML is one page with everything escaped")
    func html() {
        var builder = AuditBuilder()
        builder.add(node(1, kernel: "<script>alert(1)</script>"), fallbackName: "")
        builder.add(node(2), fallbackName: "")
        builder.add(node(3), fallbackName: "")
        let page = builder.finish().html()
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(!page.contains("<script>"))
        #expect(page.contains("&lt;script&gt;"))
        #expect(page.contains("<style>"))
    }
}
