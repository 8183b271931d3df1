import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Sets a value at a path of object keys in a manifest.
func setting(_ value: JSONValue, at path: [String], in document: JSONValue) -> JSONValue {
    guard let key = path.first, case .object(var object) = document else { return value }
    object[key] = setting(value, at: Array(path.dropFirst()), in: object[key] ?? .object([:]))
    return .object(object)
}

func write(_ value: JSONValue, _ path: String) throws {
    try AtomicFile.write(CanonicalJSON.pretty(value), to: path)
}

@Suite("provenance diff and verify, end to end", .serialized)
struct VerifyCommandTests {
    let machine = Project.machines + "/host-hwloc-20em64t-hybrid"

    @Test("a fresh live capture verifies against itself")
    func liveSelf() throws {
        let directory = temporaryDirectory()
        #expect(provenance(["capture", "-q", "-o", directory + "/env.json"]).outcome == .exited(0))
        let result = provenance(["verify", directory + "/env.json"])
        #expect(result.outcome == .exited(0), "\(result.stdoutText)\(result.stderrText)")
        #expect(result.stdoutText.hasPrefix("verified: the environment holds under policy default"))
        let strict = provenance(["verify", directory + "/env.json", "--policy", "strict"])
        #expect(strict.outcome == .exited(0), "\(strict.stdoutText)")
    }

    @Test("a changed kernel release fails naming exactly that field; a policy ignoring it passes")
    func kernelRelease() throws {
        let directory = temporaryDirectory()
        #expect(provenance(["capture", "-q", "--root", machine, "-o", directory + "/env.json"]).outcome == .exited(0))
        let recorded = try readJSON(directory + "/env.json")
        try write(setting("5.10.0-99-amd64", at: ["sections", "os", "data", "kernel", "release"], in: recorded),
                  directory + "/changed.json")

        let result = provenance(["verify", directory + "/changed.json", "--root", machine, "--format", "json"])
        #expect(result.outcome == .exited(2))
        let report = try JSONParser.parse(result.stdout)
        let violations = report["violations"]?.arrayValue ?? []
        #expect(violations.map { $0["path"]?.stringValue } == ["os.kernel.release"])
        #expect(violations.first?["old"] == "5.10.0-99-amd64")
        #expect(violations.first?["new"] == "6.1.0-13-amd64")
        #expect(violations.first?["rule"] == "equal")

        let text = provenance(["verify", directory + "/changed.json", "--root", machine])
        #expect(text.stdoutText.contains("os.kernel.release: recorded \"5.10.0-99-amd64\", now \"6.1.0-13-amd64\""))

        try AtomicFile.write(Array(#"{"policy": "mine", "rules": [{"path": "os.kernel.*", "rule": "ignore"}], "default": {"rule": "equal"}}"#.utf8),
                             to: directory + "/policy.json")
        #expect(provenance(["verify", directory + "/changed.json", "--root", machine, "--policy", directory + "/policy.json"])
            .outcome == .exited(0))
        try AtomicFile.write(Array("policy: mine\nrules:\n  - path: os.kernel.release\n    rule: ignore\ndefault:\n  rule: equal\n".utf8),
                             to: directory + "/policy.yaml")
        #expect(provenance(["verify", directory + "/changed.json", "--root", machine, "--policy", directory + "/policy.yaml"])
            .outcome == .exited(0))
        // --against compares two manifests without capturing.
        #expect(provenance(["verify", directory + "/changed.json", "--against", directory + "/env.json"]).outcome == .exited(2))
    }

    @Test("diff names what changed, by section; identical manifests exit 0")
    func diff() throws {
        let directory = temporaryDirectory()
        #expect(provenance(["capture", "-q", "--root", machine, "-o", directory + "/a.json"]).outcome == .exited(0))
        let a = try readJSON(directory + "/a.json")
        try write(setting("7", at: ["sections", "cpu", "data", "identification", "stepping"], in: a), directory + "/b.json")
        let same = provenance(["diff", directory + "/a.json", directory + "/a.json"])
        #expect(same.outcome == .exited(0))
        #expect(same.stdoutText.hasPrefix("no differences"))
        let different = provenance(["diff", directory + "/a.json", directory + "/b.json"])
        #expect(different.outcome == .exited(2))
        #expect(different.stdoutText.contains("~ cpu.identification.stepping: \"2\" → \"7\""), "\(different.stdoutText)")
        #expect(!different.stdoutText.contains("\u{1B}["), "no colours when not on a terminal")
        let json = try JSONParser.parse(provenance(["diff", directory + "/a.json", directory + "/b.json", "--format", "json"]).stdout)
        #expect(json["changes"]?.arrayValue?.count == 1)
        let markdown = provenance(["diff", directory + "/a.json", directory + "/b.json", "--format", "markdown"])
        #expect(markdown.stdoutText.contains("| ~ | `cpu.identification.stepping` | \"2\" | \"7\" |"))
    }

    @Test("malformed input: one line, the error exit code, never a crash or a hang")
    func malformed() throws {
        let directory = temporaryDirectory()
        #expect(provenance(["capture", "-q", "--root", machine, "-o", directory + "/good.json"]).outcome == .exited(0))
        let good = try #require(try RootedFileSystem().readBytes(directory + "/good.json"))
        var cases: [(String, [UInt8], String)] = [
            ("truncated", Array(good.prefix(good.count / 2)), "invalid JSON"),
            ("wrong-types", Array(#"{"schemaVersion": "1.0.0", "sections": {"os": {"status": 3}}}"#.utf8), "no \"status\" string"),
            ("deep", Array((String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)).utf8), "nesting deeper"),
            ("utf8", Array(#"{"schemaVersion": "1.0.0", "sections": {"os": {"status": ""#.utf8) + [0xFF, 0xFE] + Array(#""}}}"#.utf8), "invalid UTF-8"),
            ("future", Array(#"{"schemaVersion": "2.0.0", "sections": {}}"#.utf8), "newer than this provenance reads"),
            ("empty", [], "unexpected end of input"),
        ]
        // 100 MB of valid-looking JSON: refused by size, quickly.
        cases.append(("huge", Array("[".utf8) + Array(repeating: UInt8(ascii: "1"), count: 100_000_000) + Array("]".utf8),
                      "larger than 64 MiB"))
        for (name, bytes, message) in cases {
            try AtomicFile.write(bytes, to: "\(directory)/\(name).json")
            for command in [["verify", "\(directory)/\(name).json", "--against", directory + "/good.json"],
                            ["diff", directory + "/good.json", "\(directory)/\(name).json"]] {
                let started = monotonicSeconds()
                let result = provenance(command, timeout: 20)
                #expect(result.outcome == .exited(65), "\(name): \(result.outcome) \(result.stderrText)")
                #expect(result.stderrText.lines.count == 1 && result.stderrText.contains(message),
                        "\(name): \(result.stderrText)")
                #expect(monotonicSeconds() - started < 5)
            }
        }
        let missing = provenance(["diff", directory + "/nope.json", directory + "/good.json"])
        #expect(missing.outcome == .exited(66))
        #expect(provenance(["verify", directory + "/good.json", "--policy", "paranoid"]).outcome == .exited(64))
        try AtomicFile.write(Array("rules: [".utf8), to: directory + "/bad.yaml")
        #expect(provenance(["verify", directory + "/good.json", "--policy", directory + "/bad.yaml"]).outcome == .exited(65))
    }

    @Test("provenance policies prints a built-in policy as a file that verify accepts")
    func policies() throws {
        let directory = temporaryDirectory()
        let listing = provenance(["policies"])
        #expect(listing.stdoutText.lines.map { $0.split(separator: ":").first.map(String.init) } == ["strict", "default", "lenient"])
        for name in ["strict", "default", "lenient"] {
            try AtomicFile.write(provenance(["policies", name]).stdout, to: "\(directory)/\(name).json")
        }
        let validation = validateWithSchema(["strict", "default", "lenient"].map { "\(directory)/\($0).json" },
                                            schema: "policy-1.0.0")
        #expect(validation.ok, "\(validation.output)")
        #expect(provenance(["capture", "-q", "--root", machine, "-o", directory + "/env.json"]).outcome == .exited(0))
        #expect(provenance(["verify", directory + "/env.json", "--root", machine, "--policy", directory + "/default.json"])
            .outcome == .exited(0))
    }
}

@Suite("verify names exactly what changed", .serialized)
struct VerifyExactFieldsTests {
    @Test("a dataset file, the kernel release and a package version changed: exactly those fields fail")
    func liveChanges() throws {
        let directory = temporaryDirectory()
        try AtomicFile.write(Array("hello\n".utf8), to: directory + "/data/a.txt")
        try AtomicFile.write(Array("world\n".utf8), to: directory + "/data/b.txt")
        let environment = ["XDG_CACHE_HOME": directory + "/cache"]
        #expect(provenance(["capture", "-q", "-o", directory + "/env.json", "--dataset", "train=\(directory)/data"],
                           environment: environment).outcome == .exited(0))
        var recorded = try readJSON(directory + "/env.json")
        recorded = setting("5.10.0-99-amd64", at: ["sections", "os", "data", "kernel", "release"], in: recorded)
        var packages = try #require(recorded["sections"]?["packages.dpkg"]?["data"]?["packages"]?.arrayValue)
        let name = try #require(packages[0]["name"]?.stringValue)
        packages[0] = setting("0.0-old", at: ["version"], in: packages[0])
        recorded = setting(.array(packages), at: ["sections", "packages.dpkg", "data", "packages"], in: recorded)
        try write(recorded, directory + "/recorded.json")
        try AtomicFile.write(Array("hellO\n".utf8), to: directory + "/data/a.txt")

        let result = provenance(["verify", directory + "/recorded.json", "--format", "json"], environment: environment)
        #expect(result.outcome == .exited(2), "\(result.stderrText)")
        let report = try JSONParser.parse(result.stdout)
        let paths = Set(report["violations"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? [])
        // The dataset's digest is not repeated beside the file that changed it.
        #expect(paths == ["os.kernel.release", "packages.dpkg.packages[\(name)].version",
                          "datasets.train.files[a.txt].sha256"])

        // A policy that ignores those fields (the default policy otherwise) passes.
        var policy = try JSONParser.parse(provenance(["policies", "default"]).stdout)
        let ignores: [JSONValue] = ["os.kernel.release", "packages.**", "datasets.**"].map {
            ["path": .string($0), "rule": "ignore"]
        }
        policy = setting(.array(ignores + (policy["rules"]?.arrayValue ?? [])), at: ["rules"], in: policy)
        try write(policy, directory + "/policy.json")
        let relaxed = provenance(["verify", directory + "/recorded.json", "--policy", directory + "/policy.json"],
                                 environment: environment)
        #expect(relaxed.outcome == .exited(0), "\(relaxed.stdoutText)")
    }

    @Test("a changed recorded driver version fails naming gpu.nvidia.driverVersion only")
    func driverVersion() throws {
        let directory = temporaryDirectory()
        let machine = Project.machines + "/gpu-telegraf-tesla-t4"
        #expect(provenance(["capture", "-q", "--root", machine, "-o", directory + "/env.json"]).outcome == .exited(0))
        let recorded = try readJSON(directory + "/env.json")
        let driver = try #require(recorded["sections"]?["gpu.nvidia"]?["data"]?["driverVersion"]?.stringValue)
        try write(setting("390.157", at: ["sections", "gpu.nvidia", "data", "driverVersion"], in: recorded),
                  directory + "/changed.json")
        let result = provenance(["verify", directory + "/changed.json", "--root", machine, "--format", "json"])
        #expect(result.outcome == .exited(2))
        let violations = try JSONParser.parse(result.stdout)["violations"]?.arrayValue ?? []
        #expect(violations.map { $0["path"]?.stringValue } == ["gpu.nvidia.driverVersion"])
        #expect(violations.first?["new"]?.stringValue == driver)
    }
}
