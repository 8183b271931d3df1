#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import ProvenanceCore

func manifest(_ sections: [String: JSONValue]) -> JSONValue {
    ["schemaVersion": "1.0.0", "sections": .object(sections)]
}

func section(_ data: JSONValue, status: String = "ok") -> JSONValue {
    ["status": .string(status), "probeVersion": "1.0.0", "data": data, "issues": [], "durationMs": 3]
}

@Suite("Semantic diff")
struct DiffTests {
    @Test("records are matched by identity, not position; paths name them")
    func identity() {
        let gpuA: JSONValue = ["pciBusIdNormalized": "0000:3b:00.0", "uuid": "GPU-a", "vbiosVersion": "1"]
        let gpuB: JSONValue = ["pciBusIdNormalized": "0000:af:00.0", "uuid": "GPU-b", "vbiosVersion": "1"]
        var gpuB2 = gpuB.objectValue!
        gpuB2["vbiosVersion"] = "2"
        let old = manifest(["gpu.nvidia": section(["driverVersion": "535.104.05", "gpus": [gpuA, gpuB]])])
        let new = manifest(["gpu.nvidia": section(["driverVersion": "550.54.14", "gpus": [.object(gpuB2), gpuA]])])
        let diff = ManifestDiff(old: old, new: new)
        #expect(diff.changes.map(\.path) == ["gpu.nvidia.driverVersion", "gpu.nvidia.gpus[0000:af:00.0].vbiosVersion"])
        #expect(diff.changes[0].old == "535.104.05" && diff.changes[0].new == "550.54.14")
    }

    @Test("plain lists are sets; volatile parts, durations, issues, hosts and skipped sections are ignored")
    func ignored() {
        var a = manifest([
            "cpu": section(["flags": ["avx", "sse2"]]),
            "git": ["status": "skipped", "probeVersion": "1.0.0", "issues": [], "durationMs": 0],
        ])
        var b = manifest([
            "cpu": ["status": "ok", "probeVersion": "1.0.0", "data": ["flags": ["sse2", "avx"]], "durationMs": 99,
                    "issues": [["source": "x", "message": "y"]], "volatile": ["t": 1]],
            "git": section(["commit": "abc"]),
        ])
        a = .object(a.objectValue!.merging(["hostName": "a", "captureTime": "2020-01-01T00:00:00Z"]) { $1 })
        b = .object(b.objectValue!.merging(["hostName": "b", "captureTime": "2021-01-01T00:00:00Z"]) { $1 })
        #expect(ManifestDiff(old: a, new: b).isEmpty)
        let c = manifest(["cpu": section(["flags": ["avx512f", "sse2"]])])
        let diff = ManifestDiff(old: a, new: c)
        #expect(diff.changes.count == 1)
        #expect(diff.changes[0].gained == ["avx512f"] && diff.changes[0].lost == ["avx"])
    }

    @Test("added and removed fields and sections, status changes")
    func addedRemoved() {
        let old = manifest(["os": section(["kernel": ["release": "6.1"]]), "cpu": section(["vendor": "x"])])
        let new = manifest(["os": section(["kernel": ["release": "6.1", "version": "#1"]]),
                            "cpu": ["status": "failed", "probeVersion": "1.0.0", "issues": [], "durationMs": 0]])
        let changes = ManifestDiff(old: old, new: new).changes
        #expect(changes.map(\.path) == ["cpu.status", "cpu", "os.kernel.version"])
        #expect(changes.map(\.kind) == [.changed, .removed, .added])
    }
}

@Suite("Policies")
struct PolicyTests {
    @Test("path patterns", arguments: [
        ("gpu.nvidia.gpus[*].vbiosVersion", "gpu.nvidia.gpus[0000:3b:00.0].vbiosVersion", true),
        ("**.serial", "gpu.nvidia.gpus[0000:3b:00.0].serial", true),
        ("**.serial", "gpu.nvidia.gpus[0000:3b:00.0].serialish", false),
        ("*.status", "os.status", true), ("*.status", "gpu.nvidia.status", false),
        ("*.*.status", "gpu.nvidia.status", true), ("os.**", "os.kernel.release", true),
        ("os.kernel.release", "os.kernel.releases", false), ("cpu.flags", "cpu.flags", true),
    ])
    func patterns(pattern: String, path: String, matches: Bool) {
        #expect(PathPattern(pattern).matches(path) == matches)
    }

    @Test("versions compare numerically")
    func versions() throws {
        #expect(try #require(Version("12.10")) > #require(Version("12.2")))
        #expect(try #require(Version("535.104.05")) > #require(Version("535.86.10")))
        #expect(try #require(Version("12.0")) == #require(Version("12")))
        #expect(Version("N/A") == nil)
    }

    func change(_ path: String, _ old: JSONValue?, _ new: JSONValue?) -> ManifestDiff {
        let oldDoc = old.map { manifest(["s": section(["v": $0])]) } ?? manifest(["s": section([:])])
        let newDoc = new.map { manifest(["s": section(["v": $0])]) } ?? manifest(["s": section([:])])
        return ManifestDiff(old: oldDoc, new: newDoc)
    }

    @Test("each rule", arguments: [
        (Policy.Rule.atLeast, JSONValue.string("12.2"), JSONValue.string("12.4"), false),
        (.atLeast, "12.4", "12.2", true), (.sameMajor, "11.8", "11.2", false), (.sameMajor, "11.8", "12.0", true),
        (.sameMinor, "11.8.89", "11.8.1", false), (.sameMinor, "11.8", "11.7", true), (.equal, "a", "b", true),
        (.ignore, "a", "b", false), (.atLeast, "N/A", "12.0", true),
        (.subset, JSONValue.array(["a", "b"]), JSONValue.array(["a", "b", "c"]), false),
        (.subset, JSONValue.array(["a", "b"]), JSONValue.array(["a"]), true),
    ])
    func rules(rule: Policy.Rule, old: JSONValue, new: JSONValue, violates: Bool) {
        let policy = Policy(name: "t", description: "", rules: [.init("s.v", rule)], fallback: .init("default", .ignore))
        #expect(policy.violations(in: change("s.v", old, new)).isEmpty != violates)
    }

    @Test("first matching rule decides; the default decides the rest")
    func order() {
        let policy = try! Policy(json: [
            "policy": "mine",
            "rules": [["path": "s.v", "rule": "ignore"], ["path": "s.*", "rule": "equal", "severity": "warning"]],
            "default": ["rule": "equal"],
        ])
        #expect(policy.violations(in: change("s.v", "a", "b")).isEmpty)
        #expect(policy.entry(for: "s.w").severity == .warning)
        #expect(policy.entry(for: "t.w").rule == .equal && policy.entry(for: "t.w").severity == .error)
    }

    @Test("malformed policies are refused with the place", arguments: [
        JSONValue.array([]), ["rules": [["path": "x", "rule": "sometimes"]]], ["rules": [["rule": "equal"]]],
        ["rules": "x"], ["bogus": 1], ["rules": [["path": "x", "rule": "equal", "severity": "fatal"]]],
    ])
    func malformed(document: JSONValue) {
        #expect(throws: PolicyError.self) { try Policy(json: document) }
    }

    @Test("built-in policies round-trip through their file form")
    func builtins() throws {
        for policy in Policy.builtins { #expect(try Policy(json: policy.json) == policy) }
        // The default policy: driver and kernel matter, serials and memory size do not.
        let p = Policy.default
        #expect(p.entry(for: "gpu.nvidia.driverVersion").rule == .equal)
        #expect(p.entry(for: "gpu.nvidia.cudaDriverVersion").rule == .atLeast)
        #expect(p.entry(for: "os.kernel.release").rule == .equal)
        #expect(p.entry(for: "gpu.nvidia.gpus[0000:3b:00.0].serial").rule == .ignore)
        #expect(p.entry(for: "memory.memTotalBytes").rule == .ignore)
        #expect(p.entry(for: "packages.dpkg.packages[libc6].version").rule == .equal)
    }
}

@Suite("Reading manifests")
struct ManifestReaderTests {
    @Test("refuses what is not a readable manifest, with one clear reason", arguments: [
        "{\"schemaVersion\": \"1.0.0\", \"sections\": {", "[]", "{}", "{\"schemaVersion\": 1, \"sections\": {}}",
        "{\"schemaVersion\": \"2.0.0\", \"sections\": {}}", "{\"schemaVersion\": \"1.0.0\", \"sections\": []}",
        "{\"schemaVersion\": \"1.0.0\", \"sections\": {\"os\": 3}}", "{\"schemaVersion\": \"1.0.0\", \"sections\": {\"os\": {\"status\": \"ok\", \"data\": []}}}",
        "{\"schemaVersion\": \"x.y\", \"sections\": {}}",
    ])
    func refuses(text: String) {
        #expect(throws: ManifestReader.Error.self) { try ManifestReader.read(Array(text.utf8)) }
    }

    @Test("a future major version says what to do")
    func future() {
        do {
            _ = try ManifestReader.read(Array("{\"schemaVersion\": \"2.1.0\", \"sections\": {}}".utf8))
            Issue.record("accepted a 2.x manifest")
        } catch {
            #expect(error.description.contains("2.1.0 is newer than this provenance reads (1.x)"))
        }
    }

    /// Mutations of a real manifest never crash the reader, the diff or the policies.
    @Test("fuzz: mutated manifests are either refused or compared, never a crash")
    func fuzz() throws {
        let base = Array(CanonicalJSON.pretty(manifest([
            "os": section(["kernel": ["release": "6.1.0-13-amd64", "version": "#1 SMP"], "osRelease": ["ID": "debian"]]),
            "cpu": section(["flags": ["avx", "sse2"], "logicalCPUs": 2, "caches": [["level": 1, "type": "Data"]]]),
            "gpu.nvidia": section(["gpus": [["uuid": "GPU-1", "pciBusIdNormalized": "0000:3b:00.0"]]]),
        ])))
        var generator = SplitMix64(seed: 0x5EED)
        let original = try ManifestReader.read(base)
        var refused = 0
        for _ in 0..<3000 {
            var bytes = base
            switch generator.next() % 4 {
            case 0: bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            case 1: bytes.removeLast(Int(generator.next() % UInt64(bytes.count)))
            case 2: bytes.insert(contentsOf: Array("[{\"".utf8), at: Int(generator.next() % UInt64(bytes.count)))
            default:
                let at = Int(generator.next() % UInt64(bytes.count))
                bytes.replaceSubrange(at..<min(bytes.count, at + 4), with: Array("null".utf8))
            }
            do {
                let mutated = try ManifestReader.read(bytes)
                let diff = ManifestDiff(old: original, new: mutated)
                for policy in Policy.builtins { _ = policy.violations(in: diff) }
                _ = DiffReport.text(diff, oldName: "a", newName: "b", color: false)
            } catch {
                refused += 1
            }
        }
        #expect(refused > 1000)
    }
}

/// A small deterministic generator, so fuzz failures are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("readable differences")
struct ReadableDifferenceTests {
    @Test("a PATH-like value is shown as the entries lost and gained; a long value around its first difference")
    func readable() throws {
        // This process's real PATH, and the same with a venv in front and one entry gone.
        var entries = (getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
        if entries.count < 3 { entries += ["/usr/sbin", "/sbin"] }
        let old = entries.joined(separator: ":") + ":/opt/tools/bin/with/a/long/name/to/pass/sixty/characters"
        let new = (["/scratch/venv/bin"] + entries.dropLast()).joined(separator: ":")
            + ":/opt/tools/bin/with/a/long/name/to/pass/sixty/characters"
        let text = try #require(DiffReport.readableChange(.string(old), .string(new)))
        #expect(text == "path list: -\(entries.last!) +/scratch/venv/bin", "\(text)")

        let long = String(repeating: "a", count: 100) + "X" + String(repeating: "b", count: 100)
        let changed = String(repeating: "a", count: 100) + "Y" + String(repeating: "b", count: 100)
        let around = try #require(DiffReport.readableChange(.string(long), .string(changed)))
        #expect(around.hasSuffix("(from character 101)"))
        #expect(around.contains("aaaaX") && around.contains("aaaaY"))
        #expect(DiffReport.readableChange(.string("short"), .string("other")) == nil)
    }
}

@Suite("Path pattern index")
struct PathPatternIndexTests {
    /// Paths that each pattern should or should not match: its wildcards filled in several ways.
    static func paths(for pattern: String) -> [String] {
        let fillings = [("x", "a.b[c]", "[0000:3b:00.0]"), ("", "", "[]"), ("long-name", "gpus[0].x", "[name.with.dots]"),
                        ("é", "ü.ß", "[é]")]
        var result: [String] = []
        for (star, doubleStar, identity) in fillings {
            let filled = pattern.replacing("[*]", with: identity).replacing("**", with: doubleStar)
                .replacing("*", with: star)
            result += [filled, filled + ".more", "x" + filled, String(filled.dropLast())]
        }
        return result
    }

    @Test("the first match through the index is the first pattern that matches, for every built-in policy")
    func sameAnswers() {
        for policy in Policy.builtins {
            var patterns = policy.rules.map(\.pattern)
            patterns += ["**", "*", "é*", "packages.packages[x1].version", "gpu.*", "*.status", String(repeating: "a", count: 200) + "*"]
                .map(PathPattern.init)
            let index = PathPatternIndex(patterns)
            var checked = 0
            for pattern in patterns {
                for path in Self.paths(for: pattern.text) + ["packages.dpkg.packages[libc6].version", "", "gpu\r\n.x"] {
                    #expect(index.firstMatch(path) == patterns.firstIndex { $0.matches(path) }, "\(path)")
                    checked += 1
                }
            }
            #expect(checked > 300)
        }
    }
}
