import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceTestSupport
import ProvenanceTrace
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `provenance run --trace`: real jobs under the real binary and the real interposer; digests
/// compared with `sha256sum`.
@Suite("provenance run --trace, end to end", .serialized)
struct TraceTests {
    /// Runs `command` traced in a fresh directory and returns (directory, the trace object, result).
    func traced(_ command: [String], in directory: String, extra: [String] = [],
                environment: [String: String] = [:]) throws -> (trace: JSONValue, result: CommandResult) {
        let result = provenance(["run", "--trace", "--out", directory + "/run"] + extra + ["--"] + command,
                                environment: environment)
        let record = try readJSON(directory + "/run/run.json")
        let trace = try #require(record["trace"], "no trace in run.json: \(result.stderrText)")
        return (trace, result)
    }

    func sha256sum(_ path: String) -> String {
        let quoted = "'" + path.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
        return "sha256:" + (shell("sha256sum < \(quoted)").output.split(separator: " ").first.map(String.init) ?? "?")
    }

    /// The entries of `list` whose path is inside `directory`, by path.
    func entries(_ trace: JSONValue, _ list: String, under directory: String) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for entry in trace[list]?.arrayValue ?? [] {
            if let path = entry["path"]?.stringValue, path.hasPrefix(directory + "/") { out[path] = entry }
        }
        return out
    }

    func expectDigests(_ found: [String: JSONValue], _ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Set(found.keys) == Set(expected), "\(found.keys.sorted())", sourceLocation: sourceLocation)
        for path in expected {
            #expect(found[path]?["sha256"]?.stringValue == sha256sum(path), "\(path)", sourceLocation: sourceLocation)
        }
    }

    /// The interposer is loaded into every process of a traced job, so it needs only libc and libm:
    /// no Swift runtime and no libstdc++ (Package.swift, Linker/libstdc++.so).
    @Test("the interposer needs only libc and libm")
    func interposerLibraries() throws {
        let library = Project.productsDirectory + "/libprovenance-trace.so"
        let dynamic = shell("readelf -d '\(library)'")
        try #require(dynamic.status == 0, "\(dynamic.output)")
        let needed = dynamic.output.split(separator: "\n").filter { $0.contains("(NEEDED)") }.compactMap { line in
            line.split(separator: "[").last?.split(separator: "]").first.map(String.init)
        }
        #expect(Set(needed) == ["libc.so.6", "libm.so.6"], "\(dynamic.output)")
    }

    @Test("a Python job: YAML config, CSV and a file from $HOME in; checkpoint, log and a renamed file out")
    func pythonJob() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf \(directory)") }
        mkdir(directory + "/home", 0o755)
        mkdir(directory + "/data", 0o755)
        _ = shell("""
            cd \(directory) && printf 'lr: 0.1\\nepochs: 3\\n' > config.yaml && printf 'a,b\\n1,2\\n3,4\\n' > data/train.csv \
            && echo token-path > home/.trainrc
            """)
        let script = """
            import os, yaml, csv
            config = yaml.safe_load(open("config.yaml"))
            rows = list(csv.reader(open("data/train.csv")))
            home = open(os.path.expanduser("~/.trainrc")).read()
            with open("checkpoint.bin", "wb") as f: f.write(bytes(range(256)) * config["epochs"])
            with open("train.log", "w") as f: f.write("rows %d\\n" % len(rows))
            with open("result.tmp", "w") as f: f.write(home)
            os.rename("result.tmp", "result.txt")
            """
        try script.write(toFile: directory + "/train.py")
        let (trace, result) = try traced(["sh", "-c", "cd \(directory) && exec python3 train.py"], in: directory,
                                         environment: ["HOME": directory + "/home"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        expectDigests(entries(trace, "inputs", under: directory),
                      ["config.yaml", "data/train.csv", "home/.trainrc", "train.py"].map { directory + "/" + $0 })
        expectDigests(entries(trace, "outputs", under: directory),
                      ["checkpoint.bin", "train.log", "result.txt"].map { directory + "/" + $0 })
        #expect(entries(trace, "outputs", under: directory)[directory + "/checkpoint.bin"]?["sizeBytes"] == 768)
        #expect(trace["temporaryFiles"] == 1)  // result.tmp, renamed away
        // The interpreter's library is summarised, not listed.
        let listed = (trace["inputs"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue }
        #expect(!listed.contains { $0.contains("/lib/python3") }, "\(listed)")
        let trees = (trace["excluded"]?.arrayValue ?? []).compactMap { $0["tree"]?.stringValue }
        #expect(trees.contains { $0.hasSuffix("/lib/python3.11") }, "\(trees)")
        // Programs: the shell and the interpreter, digested; the process tree has both.
        let programs = (trace["programs"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue }
        #expect(programs.contains { $0.hasSuffix("/python3") }, "\(programs)")
        #expect(trace["untraced"] == [], "\(trace["untraced"] ?? nil)")
        #expect((trace["processes"]?.arrayValue?.count ?? 0) >= 1)
        // Nothing of the trace's own files is left in the run directory.
        #expect(!shell("ls -A \(directory)/run").output.contains("provenance-trace"))
    }

    @Test("verify of a traced run digests the job's inputs again and names the one that changed")
    func verifyInputs() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf \(directory)") }
        _ = shell("printf 'b\\na\\n' > \(directory)/in.txt")
        let (_, result) = try traced(["sh", "-c", "sort \(directory)/in.txt > \(directory)/out.txt"], in: directory,
                                     extra: ["--only", "os"])
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let same = provenance(["verify", directory + "/run/env.json", "--format", "json"])
        #expect(same.outcome == .exited(0), "\(same.stdoutText)\(same.stderrText)")
        _ = shell("printf 'c\\n' >> \(directory)/in.txt")
        let changed = provenance(["verify", directory + "/run/env.json", "--format", "json"])
        #expect(changed.outcome == .exited(2), "\(changed.stdoutText)\(changed.stderrText)")
        let violations = try JSONParser.parse(changed.stdout)["violations"]?.arrayValue ?? []
        #expect(violations.compactMap { $0["path"]?.stringValue } == ["trace.inputs[\(directory)/in.txt].sha256"],
                "\(changed.stdoutText)")
        #expect(violations.first?["new"]?.stringValue == sha256sum(directory + "/in.txt"))
    }

    @Test("a shell pipeline: every program of it, the file it read, the file it wrote")
    func pipeline() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf \(directory)") }
        _ = shell("printf 'b\\na\\nc\\n' > \(directory)/in.txt")
        let (trace, result) = try traced(["sh", "-c", "cat \(directory)/in.txt | sort | tr a-z A-Z > \(directory)/out.txt"],
                                         in: directory)
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        expectDigests(entries(trace, "inputs", under: directory), [directory + "/in.txt"])
        expectDigests(entries(trace, "outputs", under: directory), [directory + "/out.txt"])
        let programs = Set((trace["programs"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue })
        for name in ["cat", "sort", "tr"] {
            #expect(programs.contains { $0.hasSuffix("/" + name) }, "\(name) in \(programs)")
        }
        for program in trace["programs"]?.arrayValue ?? [] {
            if let path = program["path"]?.stringValue { #expect(program["sha256"]?.stringValue == sha256sum(path)) }
        }
    }

    @Test("multiprocessing workers (fork): what each worker read and wrote is recorded")
    func multiprocessingWorkers() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf \(directory)") }
        _ = shell("cd \(directory) && for i in 0 1 2 3 4 5; do echo part $i > part$i.txt; done")
        let script = """
            import multiprocessing, os, sys
            def work(i):
                data = open("part%d.txt" % i).read()
                with open("out%d.txt" % i, "w") as f: f.write(data.upper() + str(os.getpid()))
                return os.getpid()
            if __name__ == "__main__":
                multiprocessing.set_start_method("fork")
                with multiprocessing.Pool(3) as pool:
                    pids = pool.map(work, range(6), chunksize=1)
                print(len(set(pids)) > 1 and "several workers" or "one worker")
            """
        try script.write(toFile: directory + "/job.py")
        let (trace, result) = try traced(["sh", "-c", "cd \(directory) && python3 job.py"], in: directory)
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        expectDigests(entries(trace, "inputs", under: directory),
                      [directory + "/job.py"] + (0..<6).map { "\(directory)/part\($0).txt" })
        expectDigests(entries(trace, "outputs", under: directory), (0..<6).map { "\(directory)/out\($0).txt" })
        // The workers are in the process tree, children of the interpreter.
        let processes = trace["processes"]?.arrayValue ?? []
        let pids = Set(processes.compactMap { $0["pid"]?.intValue })
        let children = processes.filter { $0["parentPid"]?.intValue.map(pids.contains) == true }
        #expect(children.count >= 3, "\(processes)")
    }

    @Test("threads, subprocess (vfork + exec) and posix_spawn: every read and every program is recorded")
    func threadsAndSpawn() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf \(directory)") }
        _ = shell("cd \(directory) && mkdir t && for i in $(seq 0 199); do echo $i > t/f$i; done && echo spawned > s1 && echo posix > s2")
        let script = """
            import os, subprocess
            from concurrent.futures import ThreadPoolExecutor
            def read(i): return open("t/f%d" % i).read()
            with ThreadPoolExecutor(8) as pool: total = sum(int(x) for x in pool.map(read, range(200)))
            subprocess.run(["cat", "s1"], check=True, stdout=subprocess.DEVNULL)
            pid = os.posix_spawn("/bin/cat", ["cat", "s2"], os.environ)
            os.waitpid(pid, 0)
            with open("sum.txt", "w") as f: f.write(str(total))
            """
        try script.write(toFile: directory + "/job.py")
        let (trace, result) = try traced(["sh", "-c", "cd \(directory) && python3 job.py"], in: directory)
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        expectDigests(entries(trace, "inputs", under: directory),
                      [directory + "/job.py", directory + "/s1", directory + "/s2"] + (0..<200).map { "\(directory)/t/f\($0)" })
        expectDigests(entries(trace, "outputs", under: directory), [directory + "/sum.txt"])
        let programs = Set((trace["programs"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue })
        #expect(programs.contains("/bin/cat"), "\(programs)")
        #expect(programs.contains { $0.hasSuffix("/cat") && $0 != "/bin/cat" }, "\(programs)")
    }

    @Test("the exec family from C (execl, execle with its own environment, execlp in a vfork child): same output, programs recorded")
    func execFamily() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf \(directory)") }
        let source = """
            #include <unistd.h>
            #include <sys/wait.h>
            int main(void) {
                int status;
                if (fork() == 0) { execl("/bin/echo", "echo", "execl", "works", (char *)0); _exit(9); }
                wait(&status);
                char *env[] = {"ONLY=this", 0};
                if (fork() == 0) { execle("/usr/bin/env", "env", (char *)0, env); _exit(9); }
                wait(&status);
                if (vfork() == 0) { execlp("true", "true", (char *)0); _exit(9); }
                wait(&status);
                return WEXITSTATUS(status);
            }
            """
        try source.write(toFile: directory + "/execs.c")
        let compiled = shell("cc -O2 -o \(directory)/execs \(directory)/execs.c 2>&1")
        try #require(compiled.status == 0, "cc failed: \(compiled.output)")
        let plain = shell("\(directory)/execs")
        let (trace, result) = try traced([directory + "/execs"], in: directory)
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        #expect(result.stdoutText == plain.output && plain.output == "execl works\nONLY=this\n", "\(result.stdoutText)")
        let programs = trace["programs"]?.arrayValue ?? []
        let paths = Set(programs.compactMap { $0["path"]?.stringValue })
        #expect(paths.isSuperset(of: [directory + "/execs", "/bin/echo", "/usr/bin/env"]), "\(paths)")
        #expect(paths.contains { $0.hasSuffix("/true") }, "\(paths)")
        // execle dropped LD_PRELOAD: env ran untraced, and the record says so.
        let env = programs.first { $0["path"] == "/usr/bin/env" }
        #expect(env?["untraced"]?.stringValue?.contains("without LD_PRELOAD") == true)
    }

    @Test("paths with spaces, newlines and invalid UTF-8 are recorded exactly (pathBytes)")
    func oddPaths() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf \(directory)") }
        let script = """
            import os
            d = os.fsencode(os.getcwd())
            for name in [b"with space.txt", b"new\\nline.txt", b"bad\\xff.txt"]:
                with open(d + b"/in " + name, "wb") as f: f.write(b"input " + name)
            os.sync()
            """
        try script.write(toFile: directory + "/make.py")
        _ = shell("cd \(directory) && python3 make.py")
        let job = """
            import os
            d = os.fsencode(os.getcwd())
            for name in [b"with space.txt", b"new\\nline.txt", b"bad\\xff.txt"]:
                data = open(d + b"/in " + name, "rb").read()
                with open(d + b"/out " + name, "wb") as f: f.write(data.upper())
            """
        try job.write(toFile: directory + "/job.py")
        let (trace, result) = try traced(["sh", "-c", "cd \(directory) && python3 job.py"], in: directory)
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        for (list, prefix) in [("inputs", "in "), ("outputs", "out ")] {
            let found = entries(trace, list, under: directory).filter { $0.key.contains("/" + prefix) }
            #expect(found.count == 3, "\(list): \(found.keys.sorted())")
            #expect(found[directory + "/" + prefix + "with space.txt"] != nil)
            #expect(found[directory + "/" + prefix + "new\nline.txt"] != nil)
            let bad = found.values.first { $0["pathBytes"] != nil }
            let bytes = Array((directory + "/" + prefix + "bad").utf8) + [0xff] + Array(".txt".utf8)
            #expect(bad?["pathBytes"]?.stringValue.flatMap(base64Decode) == bytes)
            #expect(bad?["path"]?.stringValue == directory + "/" + prefix + "bad\u{FFFD}.txt")
            // The digest of the file with the invalid name, from sha256sum given the real bytes.
            let real = shell("cd \(directory) && sha256sum \"\(prefix)bad\"$(printf '\\377').txt").output.prefix(64)
            #expect(bad?["sha256"]?.stringValue == "sha256:" + real)
        }
    }

    @Test("a job that modifies one of its inputs: the input is marked changed during the run")
    func modifiedInput() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf \(directory)") }
        _ = shell("echo first > \(directory)/state.txt; echo fixed > \(directory)/other.txt")
        let (trace, result) = try traced(
            ["sh", "-c", "cat \(directory)/state.txt \(directory)/other.txt > /dev/null; sleep 0.01; echo more >> \(directory)/state.txt"],
            in: directory)
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let inputs = entries(trace, "inputs", under: directory)
        expectDigests(inputs, [directory + "/state.txt", directory + "/other.txt"])
        #expect(inputs[directory + "/state.txt"]?["changedDuringRun"] == true)
        #expect(inputs[directory + "/other.txt"]?["changedDuringRun"] == nil)
        expectDigests(entries(trace, "outputs", under: directory), [directory + "/state.txt"])
    }

    @Test("the recorded inputs checked again later (TraceCheck): an input changed since the run is found")
    func checkInputsLater() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf \(directory)") }
        _ = shell("echo one > \(directory)/a.txt; echo two > \(directory)/b.txt")
        let (trace, result) = try traced(["sh", "-c", "cat \(directory)/a.txt \(directory)/b.txt > /dev/null"], in: directory)
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let before = TraceCheck.inputs(of: trace)
        #expect(before.checked >= 2 && before.findings.isEmpty, "\(before.findings)")
        let recordedB = sha256sum(directory + "/b.txt")
        #expect(entries(trace, "inputs", under: directory)[directory + "/b.txt"]?["sha256"]?.stringValue == recordedB)
        _ = shell("echo changed > \(directory)/b.txt; rm \(directory)/a.txt")
        // The same run as an in-toto runtime-trace statement: outputs as subjects, every file access.
        let statement = try #require(TraceAttestation.statement(runRecord: try readJSON(directory + "/run/run.json")))
        #expect(statement.predicateType == "https://in-toto.io/attestation/runtime-trace/v0.1")
        let parsed = try InTotoStatement.parse(statement.payload)
        #expect(parsed.predicateType == statement.predicateType)
        let accesses = statement.predicate["monitorLog"]?["fileAccess"]?.arrayValue ?? []
        let read = accesses.first { $0["name"]?.stringValue == directory + "/b.txt" }
        #expect(read?["digest"]?["sha256"]?.stringValue.map { "sha256:" + $0 } == recordedB)
        #expect(read?["annotations"]?["access"] == "read")
        #expect(accesses.contains { $0["annotations"]?["access"] == "executed" && $0["name"]?.stringValue?.hasSuffix("/cat") == true })
        let after = TraceCheck.inputs(of: trace).findings
        #expect(after.map(\.kind) == [.missing, .changed], "\(after)")
        #expect(after.last?.now == sha256sum(directory + "/b.txt"))
    }

    @Test("a statically linked program in the job is reported as untraced")
    func staticProgram() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf \(directory)") }
        _ = shell("echo data > \(directory)/in.txt")
        let (trace, result) = try traced(
            ["sh", "-c", "/bin/busybox cat \(directory)/in.txt > \(directory)/copy.txt; cat \(directory)/copy.txt > /dev/null"],
            in: directory)
        #expect(result.outcome == .exited(0), "\(result.stderrText)")
        let untraced = trace["untraced"]?.arrayValue ?? []
        #expect(untraced.count == 1, "\(untraced)")
        #expect(untraced.first?["path"] == "/bin/busybox")
        #expect(untraced.first?["reason"]?.stringValue?.contains("statically linked") == true)
        let busybox = trace["programs"]?.arrayValue?.first { $0["path"] == "/bin/busybox" }
        #expect(busybox?["sha256"]?.stringValue == sha256sum("/bin/busybox"))
        // The shell's redirection is seen (the shell is traced); what busybox read is not.
        expectDigests(entries(trace, "outputs", under: directory), [directory + "/copy.txt"])
        #expect(entries(trace, "inputs", under: directory).isEmpty)
    }

    @Test("the job's exit status, output and errno-dependent behaviour are unchanged; --trace-include/-exclude")
    func unchangedBehaviour() throws {
        let directory = temporaryDirectory()
        defer { _ = shell("rm -rf \(directory)") }
        _ = shell("mkdir -p \(directory)/skip && echo x > \(directory)/skip/a && echo y > \(directory)/b")
        let script = """
            import errno, os
            try:
                open("/nonexistent/file")
            except FileNotFoundError as e:
                print("errno", e.errno == errno.ENOENT)
            for fd in range(3, 1024):
                try: os.close(fd)
                except OSError: pass
            open("\(directory)/skip/a").read(); open("\(directory)/b").read()
            open("/etc/ld.so.cache", "rb").read(1)
            raise SystemExit(7)
            """
        try script.write(toFile: directory + "/job.py")
        let (trace, result) = try traced(["python3", directory + "/job.py"], in: directory,
                                         extra: ["--trace-exclude", directory + "/skip", "--trace-include", "/etc/ld.so.cache"])
        #expect(result.outcome == .exited(7))
        #expect(result.stdoutText == "errno True\n")
        expectDigests(entries(trace, "inputs", under: directory), [directory + "/b", directory + "/job.py"])
        let paths = (trace["inputs"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue }
        #expect(paths.contains("/etc/ld.so.cache"))
        let excluded = trace["excluded"]?.arrayValue?.first { $0["tree"]?.stringValue == directory + "/skip" }
        #expect(excluded?["files"] == 1)
    }
}

private func base64Decode(_ text: String) -> [UInt8]? {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var bits = 0, count = 0
    var out: [UInt8] = []
    for byte in text.utf8 where byte != UInt8(ascii: "=") {
        guard let value = alphabet.firstIndex(of: byte) else { return nil }
        bits = bits << 6 | value
        count += 6
        if count >= 8 { count -= 8; out.append(UInt8((bits >> count) & 0xff)) }
    }
    return out
}

extension String {
    func write(toFile path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw POSIXError(path) }
        defer { close(fd) }
        let bytes = Array(utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else { throw POSIXError(path) }
    }
}

struct POSIXError: Error { let path: String; init(_ path: String) { self.path = path } }
