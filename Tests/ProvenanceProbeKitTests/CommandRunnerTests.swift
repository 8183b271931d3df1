import ProvenanceCore
import ProvenanceTestSupport
import Testing
@testable import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#endif

@Suite("Live command runner")
struct LiveCommandRunnerTests {
    let runner = LiveCommandRunner(environment: processEnvironment())

    @Test("output, exit status and the executable that answered")
    func basics() {
        let result = runner.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout: 5)
        #expect(result.outcome == .exited(3))
        #expect(result.stdoutText == "out\n")
        #expect(result.stderrText == "err\n")
        #expect(result.executable?.hasSuffix("/sh") == true)
        #expect(runner.run(["definitely-not-installed-xyz"], timeout: 5).outcome == .notFound)
    }

    @Test("a hanging command and everything it started are killed at the timeout")
    func timeout() throws {
        // Durations unique to this run, so processes of other tests or builds on the machine do not count.
        let nonce = Int.random(in: 100_000...999_999)
        let started = monotonicSeconds()
        let result = runner.run(["sh", "-c", "sleep 300.\(nonce) & sleep 301.\(nonce); echo done"], timeout: 0.5)
        let elapsed = monotonicSeconds() - started
        #expect(result.outcome == .timedOut(seconds: 0.5))
        #expect(elapsed < 1.5, "took \(elapsed) s")
        // Neither the shell nor its children survive (they are one process group).
        usleep(100_000)
        #expect(shell("ps -eo args | grep -c '[s]leep 30[01][.]\(nonce)'").output.trimmed == "0")
    }

    @Test("a background child holding the pipes does not hold the command")
    func lingeringGrandchild() {
        let nonce = Int.random(in: 100_000...999_999)
        let started = monotonicSeconds()
        let result = runner.run(["sh", "-c", "sleep 302.\(nonce) & echo ready"], timeout: 5)
        #expect(result.outcome == .exited(0))
        #expect(result.stdoutText == "ready\n")
        #expect(monotonicSeconds() - started < 1.5)
        usleep(100_000)
        #expect(shell("ps -eo args | grep -c '[s]leep 302[.]\(nonce)'").output.trimmed == "0")
    }

    @Test("a child that left the group (setsid) of a command that ended by itself is killed too")
    func escapedChildOfFinishedCommand() {
        let marker = "3033\(Int.random(in: 100...999))"
        let result = runner.run(["sh", "-c", "setsid sleep \(marker) < /dev/null > /dev/null 2>&1 & echo started"], timeout: 5)
        #expect(result.outcome == .exited(0))
        usleep(100_000)
        #expect(shell("ps -eo args | grep -c '[s]leep \(marker)'").output.trimmed == "0")
    }

    @Test("the processes started after a command: the cyclic range of process ids after the last one before it")
    func processIDRange() {
        #expect(processID(101, isIn: (100, 120)))
        #expect(processID(120, isIn: (100, 120)))
        #expect(!processID(100, isIn: (100, 120)))
        #expect(!processID(121, isIn: (100, 120)))
        // Wrapped at pid_max: after 4194300, ids start again from the bottom.
        #expect(processID(4_194_301, isIn: (4_194_300, 305)))
        #expect(processID(301, isIn: (4_194_300, 305)))
        #expect(!processID(306, isIn: (4_194_300, 305)))
        #expect(!processID(5_000, isIn: (4_194_300, 305)))
        // Nothing handed out: no process.
        #expect(!processID(100, isIn: (100, 100)))
        #expect(lastAllocatedProcessID() != nil)
    }

    @Test("children get default signal handling even when spawned from a thread that blocks SIGTERM")
    func signalMask() async {
        let result: CommandResult = await withCheckedContinuation { continuation in
            startDetachedThread {
                var blocked = sigset_t()
                sigemptyset(&blocked)
                sigaddset(&blocked, SIGTERM)
                pthread_sigmask(SIG_BLOCK, &blocked, nil)
                continuation.resume(returning: self.runner.run(["sh", "-c", "kill -TERM $$; sleep 5"], timeout: 10))
            }
        }
        #expect(result.outcome == .signalled(SIGTERM))
    }

    @Test("large outputs are read completely")
    func largeOutput() {
        let result = runner.run(["sh", "-c", "head -c 3000000 /dev/zero"], timeout: 10)
        #expect(result.outcome == .exited(0))
        #expect(result.stdout.count == 3_000_000)
    }
}

@Suite("Replayed commands")
struct ReplayCommandRunnerTests {
    func machine(_ json: String, files: [String: String] = [:]) throws -> RootedFileSystem {
        let directory = "/tmp/provenance-replay-\(getpid())-\(Int.random(in: 0...1_000_000))"
        try AtomicFile.write(Array(json.utf8), to: directory + "/commands/commands.json")
        for (name, content) in files { try AtomicFile.write(Array(content.utf8), to: directory + "/commands/" + name) }
        return RootedFileSystem(root: directory)
    }

    @Test("argv[0] matches by basename, the rest exactly; first match wins; unlisted is not installed")
    func matching() throws {
        let fs = try machine("""
            {"commands": [
              {"argv": ["/usr/bin/gcc", "--version"], "stdout": "gcc.txt", "exitCode": 0},
              {"argv": ["gcc", "--version"], "stdout": "other.txt"},
              {"argv": ["nvidia-smi", "-q", "-x"], "stdout": "out.txt", "stderr": "err.txt", "exitCode": 9}
            ]}
            """, files: ["gcc.txt": "gcc 12\n", "other.txt": "no\n", "out.txt": "failed\n", "err.txt": "oops\n"])
        let runner = try ReplayCommandRunner(machine: fs)
        let gcc = runner.run(["gcc", "--version"], timeout: 1)
        #expect(gcc.stdoutText == "gcc 12\n")
        #expect(gcc.executable == "/usr/bin/gcc")
        let smi = runner.run(["/opt/bin/nvidia-smi", "-q", "-x"], timeout: 1)
        #expect(smi.outcome == .exited(9))
        #expect(smi.stderrText == "oops\n")
        #expect(runner.run(["nvidia-smi", "-q"], timeout: 1).outcome == .notFound)
        #expect(runner.run(["clang", "--version"], timeout: 1).outcome == .notFound)
    }

    @Test("a recorded hang times out after the timeout, not before and not much after")
    func hang() throws {
        let runner = try ReplayCommandRunner(machine: try machine(#"{"commands": [{"argv": ["nvidia-smi", "-q", "-x"], "hang": true}]}"#))
        let started = monotonicSeconds()
        let result = runner.run(["nvidia-smi", "-q", "-x"], timeout: 0.3)
        let elapsed = monotonicSeconds() - started
        #expect(result.outcome == .timedOut(seconds: 0.3))
        #expect(elapsed >= 0.29 && elapsed < 0.8)
    }

    @Test("malformed commands.json is a clear error", arguments: [
        "{", #"{"commands": 3}"#, #"{"commands": [{"argv": []}]}"#, #"{"commands": [{"argv": ["a"], "stdout": "missing.txt"}]}"#,
        #"{"commands": [{"argv": ["a"], "exitCode": "0"}]}"#, #"{"commands": [{"argv": ["a"], "stdout": "../../etc/passwd"}]}"#,
    ])
    func malformed(json: String) throws {
        let fs = try machine(json)
        #expect(throws: ReplayError.self) { try ReplayCommandRunner(machine: fs) }
    }
}

@Suite("Rooted filesystem")
struct RootedFileSystemTests {
    @Test("procfs files larger than 4 KiB are read whole (Foundation truncates them)")
    func largeProcFile() throws {
        let fs = RootedFileSystem()
        let bytes = try #require(try fs.readBytes("/proc/kallsyms"))
        #expect(bytes.count > 4096)
        let counted = shell("wc -c < /proc/kallsyms").output.trimmed
        #expect(String(bytes.count) == counted)
        let cpuinfo = try #require(try fs.read("/proc/cpuinfo"))
        #expect(cpuinfo == shell("cat /proc/cpuinfo").output)
    }

    @Test("the size limit: a file of exactly maxFileBytes is read, one byte more is refused, a /proc file too; prefixes are prefixes")
    func sizeLimit() throws {
        let directory = "/tmp/provenance-limit-\(getpid())"
        mkdir(directory, 0o755)
        defer { _ = shell("rm -rf '\(directory)'") }
        let content = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try AtomicFile.write(content, to: directory + "/f")
        var fs = RootedFileSystem(root: directory)
        fs.maxFileBytes = content.count
        #expect(try fs.readBytes("/f") == content)
        fs.maxFileBytes = content.count - 1
        #expect(throws: FileSystemError.self) { try fs.readBytes("/f") }
        // /proc states size 0: the limit holds past the first read too.
        var proc = RootedFileSystem()
        proc.maxFileBytes = 10_000
        #expect(throws: FileSystemError.self) { try proc.readBytes("/proc/kallsyms") }
        #expect(try RootedFileSystem(root: directory).readPrefix("/f", maxBytes: 100) == Array(content.prefix(100)))
        #expect(try RootedFileSystem(root: directory).readPrefix("/f", maxBytes: 20_000) == content)
        #expect(try RootedFileSystem(root: directory).readPrefix("/f", maxBytes: 0) == [])
    }

    @Test("missing files are nil; FIFOs are refused without blocking")
    func hostile() throws {
        let directory = "/tmp/provenance-fs-\(getpid())"
        mkdir(directory, 0o755)
        mkfifo(directory + "/fifo", 0o644)
        defer { unlink(directory + "/fifo"); rmdir(directory) }
        let fs = RootedFileSystem(root: directory)
        #expect(try fs.read("/missing") == nil)
        #expect(try fs.read("/missing/deeper") == nil)
        #expect(throws: FileSystemError.self) { try fs.read("/fifo") }
        #expect(try fs.list("/") == ["fifo"])
    }

    @Test("lines split on LF and CRLF")
    func lines() {
        #expect("a\r\nb\nc".lines == ["a", "b", "c"])
        #expect("a\n\nb\n".lines == ["a", "", "b"])
        // A lone \r stays; multi-byte characters and substrings split the same way.
        #expect("é\r€\r\n\r\n🙂\r".lines == ["é\r€", "", "🙂\r"])
        #expect("x\ny\r\nz".dropFirst(2).lines == ["y", "z"])
        #expect("".lines == [] && "\n".lines == [""])
        #expect(" x \r\n".trimmed == "x")
    }
}
