import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("provenance run (the pre-run hook), end to end", .serialized)
struct RunCommandTests {
    @Test("captures env.json with the command line, passes the exit status through, digests outputs")
    func record() throws {
        let directory = temporaryDirectory()
        let result = provenance(["run", "--out", directory + "/r", "--output", directory + "/result.txt",
                                 "--output", directory + "/never", "--",
                                 "sh", "-c", "echo hello > \(directory)/result.txt; echo out; exit 3"])
        #expect(result.outcome == .exited(3), "\(result.stderrText)")
        #expect(result.stdoutText == "out\n")
        let manifest = try readJSON(directory + "/r/env.json")
        #expect(manifest["sections"]?["run"]?["data"]?["commandLine"]?.arrayValue?.first == "sh")
        let record = try readJSON(directory + "/r/run.json")
        #expect(record["exit"] == ["code": 3])
        #expect(record["manifest"] == "env.json")
        #expect(record["fingerprint"] == manifest["fingerprint"])
        let expected = "sha256:" + (shell("sha256sum \(directory)/result.txt").output.split(separator: " ").first.map(String.init) ?? "")
        #expect(record["outputs"]?.arrayValue?.first?["sha256"]?.stringValue == expected)
        #expect(record["outputs"]?.arrayValue?.first?["bytes"] == 6)
        #expect(record["outputs"]?.arrayValue?.last?["missing"] == true)
        #expect(record["startTime"]?.stringValue?.hasSuffix("Z") == true)
    }

    @Test("the default run directory is runs/<UTC time>-<12 hex of the fingerprint>")
    func defaultDirectory() throws {
        let directory = temporaryDirectory()
        let result = shell("cd \(directory) && \(Project.executable) run -- true && ls runs")
        #expect(result.status == 0)
        let name = result.output.trimmed
        #expect(name.count == 16 + 1 + 12, "\(name)")
        #expect(name.dropFirst(8).first == "T" && name.dropFirst(15).first == "Z")
        let manifest = try readJSON("\(directory)/runs/\(name)/env.json")
        #expect(manifest["fingerprint"]?.stringValue?.dropFirst(7).prefix(12) == name.suffix(12))
    }

    @Test("the files of a run are synced but wandb-config.yaml, which can be made again: env.json before the job, run.json after")
    func syncs() throws {
        guard straceIsInstalled() else { return }
        let directory = temporaryDirectory()
        // The fsyncs and renames of the run, in order (the job's own `true` makes neither), but
        // the section caches' (renamed into place, never synced: a lost one is work done again).
        let traced = shell("""
            cd \(directory) && strace -f -qq -e trace=fsync,rename -e signal=none -o trace.txt \
            '\(Project.executable)' run -q --out r -- true \
            && grep -oE '^[0-9]+ +(fsync|rename\\([^,]*)' trace.txt | grep -v 'cache/provenance/section-' \
            | sed -E 's/^[0-9]+ +//; s/\\.tmp-[0-9-]+"/"/'
            """, timeout: 120)
        #expect(traced.status == 0, "\(traced.output)")
        let calls = traced.output.split(separator: "\n").map(String.init)
        #expect(calls == ["fsync", #"rename("r/.env.json""#, #"rename("\#(directory)/r/.wandb-config.yaml""#,
                          "fsync", #"rename("r/.run.json""#], "\(calls)")
        #expect(RootedFileSystem().exists(directory + "/r/wandb-config.yaml"))
    }

    @Test("SIGTERM to provenance reaches the command; its exit is recorded")
    func forwardsSignals() throws {
        let directory = temporaryDirectory()
        let script = """
            \(Project.executable) run --out \(directory)/r -- sh -c 'trap "exit 42" TERM; touch \(directory)/started; \
            while :; do sleep 0.1; done' & pid=$!
            for i in $(seq 100); do [ -e \(directory)/started ] && break; sleep 0.1; done
            kill -TERM $pid; wait $pid; echo "status $?"
            """
        let result = shell(script)
        #expect(result.output.contains("status 42"), "\(result.output)")
        #expect(try readJSON(directory + "/r/run.json")["exit"] == ["code": 42])
    }

    @Test("a capture problem does not stop the job unless --strict; a missing command is 127")
    func strict() throws {
        let directory = temporaryDirectory()
        let lenient = provenance(["run", "--out", "/proc/no/such", "--", "sh", "-c", "touch \(directory)/ran"])
        #expect(lenient.outcome == .exited(0))
        #expect(lenient.stderrText.contains("cannot create the run directory"))
        #expect(RootedFileSystem().exists(directory + "/ran"))
        let strict = provenance(["run", "--strict", "--out", "/proc/no/such", "--", "sh", "-c", "touch \(directory)/ran2"])
        #expect(strict.outcome == .exited(1))
        #expect(!RootedFileSystem().exists(directory + "/ran2"))
        #expect(provenance(["run", "--out", directory + "/m", "--", "no-such-command-xyz"]).outcome == .exited(127))
        #expect(provenance(["run", "--out", directory + "/m"]).outcome == .exited(64))
    }
}
