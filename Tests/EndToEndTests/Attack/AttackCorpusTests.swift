import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A corpus of hostile manifests, policies and options, generated at test time: no command may
/// crash or hang on any of them, and each gets a clear answer.
@Suite("Attack: no crash, no hang on hostile input", .serialized)
struct AttackCorpusTests {
    /// A manifest of `count` packages with long names: about `count` × 163 bytes (280,000: 45 MB).
    static func largeManifest(packages count: Int, host: String, variant: Int) -> JSONValue {
        var packages: [JSONValue] = []
        packages.reserveCapacity(count)
        for index in 0..<count {
            packages.append(["name": .string("package-\(index)-with-a-rather-long-name-for-realism"),
                             "version": .string(index % 997 == 0 ? "\(variant).0.\(index)" : "1.0.\(index)"),
                             "source": "pip"])
        }
        return Attack.manifest(host: host, sections: ["packages": ["packages": .array(packages)]])
    }

    @Test("hostile manifests, policies and options: 0 crashes, 0 hangs, each refused or answered")
    func corpus() throws {
        let base = temporaryDirectory()
        let good = base + "/good.json"
        try Attack.write(Attack.manifest(sections: ["memory": ["totalBytes": 8_000_000_000]]), to: good)
        var cases: [(name: String, arguments: [String], expected: Set<Int32>)] = []

        // Integer overflow: memory sizes near Int64.max, timeouts of 1e19.
        for (index, bytes) in [Int64(922_000_000_000_000_000), Int64.max, 9_223_372_036_854_775_000].enumerated() {
            let path = base + "/memory\(index).json"
            try Attack.write(Attack.manifest(sections: ["memory": ["totalBytes": .int(bytes)],
                                                        "gpu.nvidia": ["gpus": [["memoryTotalBytes": .int(bytes), "name": "X"]]]]),
                             to: path)
            for format in ["markdown", "latex", "html"] {
                cases.append(("render \(format) of \(bytes) bytes", ["render", "--format", format, path], [0]))
            }
        }
        for option in ["1e19", "1e300", "inf", "nan", "-1", "9999999999"] {
            cases.append(("capture --timeout \(option)", ["capture", "-q", "--only", "os", "--timeout", option, "-o", "/dev/null"], [64]))
            cases.append(("verify --timeout \(option)", ["verify", good, "--timeout", option], [64]))
            cases.append(("run --timeout \(option)", ["run", "--timeout", option, "--", "true"], [64]))
        }
        // Policies: 300,000 `*` / `**` (stack), 500,000 rules (time), deep nesting of JSON.
        let stars = String(repeating: "*", count: 300_000)
        let starsDots = String(repeating: "*.", count: 150_000)
        for (label, path) in [("300,000 *", stars), ("150,000 *.", starsDots), ("300,000 **", String(repeating: "**", count: 150_000))] {
            let policy = base + "/policy-\(label.filter(\.isNumber)).json"
            try Attack.write(["rules": [["path": .string(path), "rule": "equal"]]], to: policy)
            cases.append(("verify policy \(label)", ["verify", good, "--against", good, "--policy", policy], [65]))
            cases.append(("audit policy \(label)", ["audit", good, good, "--policy", policy], [65]))
        }
        // Just under the limits: a 1 KiB pattern of stars matches quickly.
        let longPattern = base + "/policy-long.json"
        try Attack.write(["rules": [["path": .string(String(repeating: "*", count: 1_000)), "rule": "equal"]]], to: longPattern)
        cases.append(("verify policy 1,000 *", ["verify", good, "--against", good, "--policy", longPattern], [0]))
        let manyRules = base + "/policy-many.json"
        try Attack.write(["rules": .array((0..<500_000).map { ["path": .string("x.y\($0)"), "rule": "equal"] })], to: manyRules)
        cases.append(("verify policy 500,000 rules", ["verify", good, "--against", good, "--policy", manyRules], [65]))
        try AtomicFile.write(Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8),
                             to: base + "/deep.json")
        cases.append(("verify policy nested 100,000 deep", ["verify", good, "--against", good, "--policy", base + "/deep.json"], [65]))
        cases.append(("diff nested 100,000 deep", ["diff", good, base + "/deep.json"], [65]))
        cases.append(("audit nested 100,000 deep", ["audit", base + "/deep.json"], [65]))
        cases.append(("render nested 100,000 deep", ["render", base + "/deep.json"], [65]))
        // "data": null: one rule for every reader.
        let nullData = base + "/null-data.json"
        try Attack.write(["schemaVersion": "1.0.0", "sections": ["cpu": ["status": "ok", "data": nil]]], to: nullData)
        cases.append(("diff data null", ["diff", good, nullData], [65]))
        cases.append(("verify data null", ["verify", nullData, "--against", good], [65]))
        cases.append(("render data null", ["render", nullData], [65]))
        cases.append(("audit data null", ["audit", good, nullData], [65]))
        // Large manifests (45 MB, 280,000 packages; see docs/security.md and
        // Benchmarks/large-manifests.py): verify --against, diff and audit answer in bounded time.
        let large = base + "/large-a.json"
        let largeB = base + "/large-b.json"
        try Attack.write(Self.largeManifest(packages: 280_000, host: "a", variant: 1), to: large)
        try Attack.write(Self.largeManifest(packages: 280_000, host: "b", variant: 2), to: largeB)
        let size = (try RootedFileSystem().readBytes(large))?.count ?? 0
        #expect(size > 45_000_000, "the large manifest is \(size) bytes")
        cases.append(("verify --against 45 MB", ["verify", large, "--against", largeB, "--format", "json"], [2]))
        cases.append(("diff 45 MB", ["diff", "--format", "json", large, largeB], [2]))
        cases.append(("audit 45 MB", ["audit", large, largeB], [2]))
        // Over the 64 MiB a manifest may be: refused at once (65), not read.
        let huge = base + "/huge.json"
        try AtomicFile.write(Array(repeating: UInt8(ascii: " "), count: 64 << 20) + Array("{}".utf8), to: huge)
        cases.append(("diff over 64 MiB", ["diff", huge, large], [65]))
        cases.append(("audit over 64 MiB", ["audit", huge], [65]))

        var crashes: [String] = []
        var hangs: [String] = []
        var wrong: [String] = []
        var slowest: (String, Double) = ("", 0)
        for item in cases {
            let started = monotonicSeconds()
            let result = provenance(item.arguments, timeout: 120)
            let seconds = monotonicSeconds() - started
            if seconds > slowest.1 { slowest = (item.name, seconds) }
            switch result.outcome {
            case .signalled(let signal): crashes.append("\(item.name): signal \(signal)")
            case .timedOut: hangs.append(item.name)
            case .exited(let code):
                if !item.expected.contains(code) {
                    wrong.append("\(item.name): exit \(code), expected \(item.expected.sorted()): \(result.stderrText.prefix(200))")
                }
                if [65, 66, 73].contains(code) {
                    // A refusal of bad data is one clear line (usage errors add ArgumentParser's usage).
                    if result.stderrText.lines.count != 1 { wrong.append("\(item.name): stderr \(result.stderrText.prefix(300))") }
                }
            default: wrong.append("\(item.name): \(result.outcome)")
            }
        }
        print("attack corpus: \(cases.count) cases, crashes \(crashes.count), hangs \(hangs.count), wrong answers \(wrong.count); slowest \(slowest.0) \(Int(slowest.1 * 1000)) ms")
        #expect(crashes.isEmpty, "\(crashes)")
        #expect(hangs.isEmpty, "\(hangs)")
        #expect(wrong.isEmpty, "\(wrong)")
    }

    @Test("PathPattern: 300,000 stars match without recursion, as the recursive matcher did on short ones")
    func pathPatterns() {
        #expect(PathPattern(String(repeating: "*.", count: 150_000)).matches("gpu.nvidia") == false)
        #expect(PathPattern(String(repeating: "*", count: 300_000)).matches("gpu.nvidia"))  // `**` × 150,000
        #expect(PathPattern(String(repeating: "**", count: 150_000)).matches("gpu.nvidia.gpus[0].x"))
        #expect(PathPattern("gpu.*.vbios").matches("gpu.nvidia.vbios"))
        #expect(!PathPattern("gpu.*.vbios").matches("gpu.nvidia.x.vbios"))
        #expect(PathPattern("**.serial").matches("gpu.nvidia.gpus[0000:3b:00.0].serial"))
        #expect(PathPattern("gpu.nvidia.gpus[*].serial").matches("gpu.nvidia.gpus[0000:3b:00.0].serial"))
        #expect(!PathPattern("gpu.nvidia.gpus[*].serial").matches("gpu.nvidia.gpus.serial"))
        #expect(PathPattern("cpu*").matches("cpu") && !PathPattern("cpu*").matches("cpu.flags"))
        #expect(EnvironmentSummary.formatBytes(Int64.max).hasSuffix("(9223372036854775807 bytes)"))
    }
}
