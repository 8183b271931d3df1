import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

@Suite("run --config / --param / params.json: parameters with their provenance", .serialized)
struct RunParametersTests {
    /// Runs a job with two config files and a --param; the job derives a value into params.json.
    private func runJob(_ directory: String, out: String, yaml: String, param: String = "lr=0.1") throws -> JSONValue {
        try AtomicFile.write(Array(yaml.utf8), to: directory + "/a.yaml")
        try AtomicFile.write(Array(#"{"optimizer": {"momentum": 0.9}, "epochs": 20, "api_token": "hunter2-secret-value"}"#.utf8),
                             to: directory + "/b.json")
        try AtomicFile.write(Array("[data]\nshuffle = true\n".utf8), to: directory + "/c.toml")
        let job = #"printf '{"steps_per_epoch": 512}' > "$PROVENANCE_RUN_DIR/params.json""#
        let result = provenance(["run", "-q", "--only", "os", "--out", out, "--config", directory + "/a.yaml",
                                 "--config", directory + "/b.json", "--config", directory + "/c.toml",
                                 "--param", param, "--", "sh", "-c", job])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        return try #require(try readJSON(out + "/run.json")["parameters"])
    }

    @Test("every value tagged by its source; the fingerprint changes exactly when a value changes")
    func provenanceOfParameters() throws {
        let directory = temporaryDirectory()
        let yaml = "optimizer:\n  lr: 0.01\n  name: adamw\nepochs: 10\n"
        let first = try runJob(directory, out: directory + "/r1", yaml: yaml)
        let values = try #require(first["values"])
        #expect(values["optimizer.lr"] == ["value": .double(0.01), "source": ["kind": "config", "file": .string(directory + "/a.yaml")]])
        #expect(values["optimizer.name"]?["source"]?["file"]?.stringValue == directory + "/a.yaml")
        // b.json overrides a.yaml's epochs.
        #expect(values["epochs"]?["value"] == 20)
        #expect(values["epochs"]?["source"]?["file"]?.stringValue == directory + "/b.json")
        #expect(values["epochs"]?["overrides"] == [["kind": "config", "file": .string(directory + "/a.yaml")]])
        #expect(values["optimizer.momentum"]?["value"] == .double(0.9))
        #expect(values["data.shuffle"]?["value"] == true)
        #expect(values["lr"] == ["value": "0.1", "source": ["kind": "user"]])
        #expect(values["steps_per_epoch"] == ["value": 512, "source": ["kind": "derived"]])
        // A secret in a config file is masked (by name), in the record and in the fingerprint.
        #expect(values["api_token"]?["value"]?.stringValue?.contains("hunter2") == false)
        #expect(first["configs"]?.arrayValue?.map { $0["format"] } == ["yaml", "json", "toml"])

        // The same values written differently: same fingerprint and same canonical config digest.
        let reformatted = try runJob(directory, out: directory + "/r2", yaml: "epochs: 10\noptimizer: {name: adamw, lr: 0.010}\n")
        #expect(reformatted["fingerprint"] == first["fingerprint"])
        #expect(reformatted["configs"]?.arrayValue?.first?["canonicalSHA256"] == first["configs"]?.arrayValue?.first?["canonicalSHA256"])
        // One value changed: another fingerprint.
        let changed = try runJob(directory, out: directory + "/r3", yaml: yaml, param: "lr=0.2")
        #expect(changed["fingerprint"] != first["fingerprint"])
        // An invalid config file stops before the job runs.
        try AtomicFile.write(Array("a: [1, 2".utf8), to: directory + "/bad.yaml")
        let bad = provenance(["run", "--out", directory + "/r4", "--config", directory + "/bad.yaml", "--", "true"])
        #expect(bad.outcome == .exited(65), "\(bad.stderrText)")
        #expect(!RootedFileSystem().exists(directory + "/r4"))
    }

    /// Our TOML parser against Python's tomllib on the real TOML files this machine has (the
    /// toml-test corpus in tomli's sdist from the package index, CPython's and Rust's own files).
    @Test("the TOML parser reads TOML files as tomllib does")
    func tomlAgainstTomllib() throws {
        let directory = temporaryDirectory()
        _ = shell("cd '\(directory)' && python3 -m pip download -q --no-deps --no-binary :all: tomli==2.0.1 2>&1 && tar -xzf tomli-2.0.1.tar.gz",
                  timeout: 120)
        // Walking pyenv's and rustup's trees took over `shell`'s default 30 s once, beside the
        // rest of the suite in a clean-clone CI run, and found nothing.
        let found = shell("find '\(directory)' /root/.pyenv /root/.rustup /usr/lib/python3* -name '*.toml' -size -100k 2>/dev/null | sort",
                          timeout: 300).output.split(separator: "\n").map(String.init)
        let valid = found.filter { !$0.contains("/invalid") }
        try #require(valid.count >= 20, "too few TOML files to compare (\(valid.count)); tomli's sdist could not be fetched?")
        let script = """
            import json, sys, tomllib, datetime, math
            def plain(v):
                if isinstance(v, (datetime.date, datetime.time)): raise ValueError('date')
                if isinstance(v, float) and (math.isinf(v) or math.isnan(v)): raise ValueError('inf')
                if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}
                if isinstance(v, list): return [plain(x) for x in v]
                return v
            for path in sys.argv[1:]:
                try: print(json.dumps({"path": path, "value": plain(tomllib.load(open(path, 'rb')))}))
                except Exception as e: print(json.dumps({"path": path, "skipped": str(e)[:80]}))
            """
        try AtomicFile.write(Array(script.utf8), to: directory + "/reference.py")
        let reference = LiveCommandRunner(environment: processEnvironment())
            .run(["python3", directory + "/reference.py"] + valid, timeout: 120)
        var compared = 0
        for line in reference.stdoutText.split(separator: "\n") {
            let item = try JSONParser.parse(Array(line.utf8))
            guard let path = item["path"]?.stringValue, let expected = item["value"] else { continue }
            let text = try #require(try RootedFileSystem().read(path))
            #expect((try? TOMLParser.parse(text)) == expected, "\(path)")
            compared += 1
        }
        #expect(compared >= 20, "\(reference.stderrText)")
        // Invalid files: an error, never a crash (a crash would end this test process).
        for path in found where path.contains("/invalid") {
            _ = try? TOMLParser.parse((try? RootedFileSystem().read(path)) ?? nil ?? "")
        }
    }
}
