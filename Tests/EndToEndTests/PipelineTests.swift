import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A site-probe directory whose executable probe `labinfo` reports the content of `value`.
private func labinfoProbe(in directory: String, value: String) throws -> String {
    let probes = directory + "/probes.d"
    try AtomicFile.write(Array(value.utf8), to: directory + "/value")
    let script = "#!/bin/sh\nprintf '{\"scratch\": \"%s\"}\\n' \"$(cat '\(directory)/value')\"\n"
    try AtomicFile.write(Array(script.utf8), to: probes + "/labinfo.sh", mode: 0o755)
    return probes
}

/// capture, run and verify are one pipeline: the same probes (site probes too), options and
/// companions, whichever command asks.
@Suite("one capture pipeline: capture, run and verify alike", .serialized)
struct PipelineTests {
    @Test("a site probe runs in capture, run and verify; verify --policy strict fails when its value changed")
    func siteProbesEverywhere() throws {
        let directory = temporaryDirectory()
        let probes = try labinfoProbe(in: directory, value: "lustre-a")
        let selection = ["--only", "os", "--only", "labinfo", "--probes-dir", probes]

        let captured = provenance(["capture", "-o", directory + "/env.json"] + selection)
        #expect(captured.outcome == .exited(0), "\(captured.stderrText)")
        #expect(try readJSON(directory + "/env.json")["sections"]?["labinfo"]?["data"]?["scratch"] == "lustre-a")

        let ran = provenance(["run", "--out", directory + "/r", "-q"] + selection + ["--", "true"])
        #expect(ran.outcome == .exited(0), "\(ran.stderrText)")
        #expect(try readJSON(directory + "/r/env.json")["sections"]?["labinfo"]?["data"]?["scratch"] == "lustre-a")

        let same = provenance(["verify", directory + "/env.json", "--policy", "strict", "--probes-dir", probes])
        #expect(same.outcome == .exited(0), "\(same.stdoutText)\(same.stderrText)")

        try AtomicFile.write(Array("lustre-b".utf8), to: directory + "/value")
        let changed = provenance(["verify", directory + "/env.json", "--policy", "strict", "--probes-dir", probes,
                                  "--format", "json"])
        #expect(changed.outcome == .exited(2), "\(changed.stdoutText)\(changed.stderrText)")
        let report = try JSONParser.parse(changed.stdout)
        let paths = report["violations"]?.arrayValue?.compactMap { $0["path"]?.stringValue } ?? []
        #expect(paths == ["labinfo.scratch"], "\(paths)")
    }

    @Test("run records a dataset, a repository and a site probe; the job gets its seeds and run directory")
    func runHasEverythingCaptureHas() throws {
        let directory = temporaryDirectory()
        let repository = GitFixture.directory()
        try #require(GitFixture.dirtyRepository(at: repository).status == 0)
        let probes = try labinfoProbe(in: directory, value: "scratch-1")
        _ = shell("mkdir -p '\(directory)/data' && printf 'a,b\\n1,2\\n' > '\(directory)/data/train.csv'")
        let job = "echo \"$PROVENANCE_SEED_TRAIN_SEED\" > \"$PROVENANCE_RUN_DIR/seed.txt\"; test -f \"$PROVENANCE_MANIFEST\""
        let arguments = ["run", "--out", directory + "/r", "--only", "os", "--only", "git", "--only", "labinfo",
                         "--probes-dir", probes, "--repo", repository, "--dataset", "train=\(directory)/data",
                         "--seed", "train-seed=42", "--", "sh", "-c", job]
        let result = provenance(arguments, environment: ["XDG_CACHE_HOME": directory + "/cache"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        #expect(result.stderrText.contains("provenance run: \(directory)/r ("), "\(result.stderrText)")
        let manifest = try readJSON(directory + "/r/env.json")
        let sections = manifest["sections"]
        #expect(sections?["git"]?["data"]?["repositories"]?.arrayValue?.first?["path"]?.stringValue == repository)
        #expect(sections?["datasets"]?["data"]?["train"]?["fileCount"] == 1)
        #expect(sections?["labinfo"]?["data"]?["scratch"] == "scratch-1")
        #expect(try RootedFileSystem().read(directory + "/r/seed.txt") == "42\n")
        #expect(try readJSON(directory + "/r/run.json")["fingerprint"] == manifest["fingerprint"])

        // The same --out again: refused before anything runs; the first run is untouched.
        let before = try RootedFileSystem().readBytes(directory + "/r/run.json")
        let again = provenance(["run", "--out", directory + "/r", "--only", "os", "--", "sh", "-c", "touch '\(directory)/ran'"])
        #expect(again.outcome == .exited(73), "\(again.stderrText)")
        #expect(again.stderrText.contains("already exists"))
        #expect(!RootedFileSystem().exists(directory + "/ran"))
        #expect(try RootedFileSystem().readBytes(directory + "/r/run.json") == before)
    }

    @Test("run --output digests files, directories (as datasets) and globs, as sha256sum does")
    func outputs() throws {
        let directory = temporaryDirectory()
        let job = "mkdir -p ckpt && printf one > ckpt/a.bin && printf two > ckpt/b.bin && echo x > log1.txt && echo y > log2.txt"
        let result = shell("cd '\(directory)' && '\(Project.executable)' run -q --only os --out r --output ckpt "
            + "--output 'log*.txt' --output 'none*.txt' -- sh -c '\(job)'")
        #expect(result.status == 0, "\(result.output)")
        let outputs = try readJSON(directory + "/r/run.json")["outputs"]?.arrayValue ?? []
        #expect(outputs.count == 4)
        let checkpoint = try #require(outputs.first)
        #expect(checkpoint["path"] == "ckpt")
        #expect(checkpoint["fileCount"] == 2)
        // The dataset digest: sha256 of `sha256sum` over the sorted relative paths.
        let digest = shell("cd '\(directory)/ckpt' && sha256sum ./a.bin ./b.bin | sha256sum").output.prefix(64)
        #expect(checkpoint["digest"]?.stringValue == "sha256:" + digest)
        for (index, name) in ["log1.txt", "log2.txt"].enumerated() {
            let record = outputs[index + 1]
            #expect(record["path"]?.stringValue == name)
            #expect(record["glob"] == "log*.txt")
            let sum = shell("sha256sum '\(directory)/\(name)'").output.prefix(64)
            #expect(record["sha256"]?.stringValue == "sha256:" + sum)
        }
        #expect(outputs.last == ["path": "none*.txt", "glob": "none*.txt", "missing": true])
    }
}
