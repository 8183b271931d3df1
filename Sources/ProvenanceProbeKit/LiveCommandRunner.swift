import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs real processes with `posix_spawn`, reading stdout and stderr with `poll` until a deadline.
///
/// Avoids the traps of Foundation `Process` on Linux: children start with an empty signal mask
/// and default signal dispositions (a child spawned from a worker thread would otherwise inherit
/// a mask that blocks SIGTERM), each child leads its own process group, and at the deadline the
/// whole group is sent SIGTERM then SIGKILL, so `sh -c 'sleep 100'` and grandchildren holding
/// the pipes die too. stdin is `/dev/null`; `LC_ALL=C` keeps version texts untranslated.
///
/// Descendants that leave the group (`setsid`, `setpgid`, daemons) are tracked by a token in
/// their environment (`PROVENANCE_COMMAND_TOKEN`, inherited by everything the command starts):
/// when the command ends or is timed out, every process still carrying its token is killed, so
/// nothing a command started outlives it (a process that clears its whole environment escapes;
/// a cgroup per capture would catch that too, at the price of needing a delegated cgroup).
public struct LiveCommandRunner: CommandRunner {
    /// The environment children get (PATH is also where commands are looked up).
    public let environment: [String: String]
    /// Output beyond this many bytes per stream is read and dropped.
    public var maxOutputBytes = 64 << 20
    /// Where names resolved in this capture (nil: every lookup walks PATH). Probes look a name
    /// up and then run it (a second lookup), and several look up the same names (python3, the
    /// MPI tools): with 12 PATH directories that was 353 `stat`s of a capture here, now 213 (each
    /// name once).
    public var resolutions: CommandResolutions?

    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// The absolute path `name` resolves to through PATH, or nil when not installed.
    public func resolve(_ name: String) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        guard let resolutions else { return searchPath(name) }
        return resolutions.answer(for: name) { searchPath(name) }
    }

    private func searchPath(_ name: String) -> String? {
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":", omittingEmptySubsequences: true) {
            let candidate = directory + "/" + name
            var info = stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        return nil
    }

    public func run(_ argv: [String], timeout: Double) -> CommandResult {
        precondition(!argv.isEmpty, "argv is empty")
        guard let executable = resolve(argv[0]) else { return CommandResult(outcome: .notFound) }
        let start = monotonicSeconds()
        let deadline = start + (timeout.isNaN ? 0 : min(max(0, timeout), Capture.maxTimeoutSeconds))

        // Pipes are created and the child spawned under one lock, so a pipe end never leaks
        // into a child spawned concurrently before FD_CLOEXEC is set (pipe2 is not exported).
        spawnLock.lock()
        var stdoutPipe: [Int32] = [-1, -1]
        var stderrPipe: [Int32] = [-1, -1]
        guard makeCloseOnExecPipe(&stdoutPipe) else {
            spawnLock.unlock()
            return startFailure(executable)
        }
        guard makeCloseOnExecPipe(&stderrPipe) else {
            close(stdoutPipe[0]); close(stdoutPipe[1])
            spawnLock.unlock()
            return startFailure(executable)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaultSignals = sigset_t()
        sigfillset(&defaultSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var childEnvironment = environment
        let token = "\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        childEnvironment[commandTokenVariable] = token
        childEnvironment["LC_ALL"] = "C"
        childEnvironment["LANG"] = "C"
        let envStrings = childEnvironment.map { "\($0.key)=\($0.value)" }

        // Everything the command starts gets a process id after this one (see `killTagged`).
        let lastPIDBefore = lastAllocatedProcessID()
        var pid: pid_t = 0
        let spawnStatus = withCStrings(argv) { argvPointers in
            withCStrings(envStrings) { envPointers in
                posix_spawn(&pid, executable, &actions, &attributes, argvPointers, envPointers)
            }
        }
        spawnLock.unlock()
        close(stdoutPipe[1])
        close(stderrPipe[1])
        guard spawnStatus == 0 else {
            close(stdoutPipe[0]); close(stderrPipe[0])
            return CommandResult(
                outcome: .couldNotStart(String(cString: strerror(spawnStatus)).lowercased()), executable: executable)
        }

        var output = OutputCollector(fds: [stdoutPipe[0], stderrPipe[0]], cap: maxOutputBytes)
        var status: Int32 = 0
        // Read until the pipes close. If the command exits while something it started still
        // holds the pipes (`sh -c 'daemon & echo ok'`), wait 100 ms more, then stop reading.
        var leaderExited = output.readUntilClosed(deadline: deadline) {
            waitpid(pid, &status, WNOHANG) == pid
        }
        if !leaderExited {
            leaderExited = waitForExit(pid, status: &status, deadline: deadline)
        }
        output.closeAll()
        guard leaderExited else {
            terminateGroup(pid, status: &status)
            killTagged(token, startedAfter: nil)
            return CommandResult(
                outcome: .timedOut(seconds: timeout), stdout: output.buffers[0], stderr: output.buffers[1],
                executable: executable, truncated: output.truncated)
        }
        // The leader is gone; anything it left in its group (background grandchildren) goes too,
        // and whatever left the group with its token.
        kill(-pid, SIGKILL)
        killTagged(token, startedAfter: monotonicSeconds() - start < 1 ? lastPIDBefore : nil)
        let outcome: CommandResult.Outcome =
            (status & 0x7f) == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
        return CommandResult(
            outcome: outcome, stdout: output.buffers[0], stderr: output.buffers[1], executable: executable,
            truncated: output.truncated)
    }

    private func startFailure(_ executable: String) -> CommandResult {
        CommandResult(outcome: .couldNotStart(String(cString: strerror(errno)).lowercased()), executable: executable)
    }

    /// Polls `waitpid` until the child exits or the deadline passes.
    private func waitForExit(_ pid: pid_t, status: inout Int32, deadline: Double) -> Bool {
        var pause: UInt32 = 200  // microseconds, doubling up to 20 ms
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return true }
            if result < 0 && errno != EINTR { return true }
            if monotonicSeconds() >= deadline { return false }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// SIGTERM to the process group, up to 100 ms of grace, then SIGKILL; reaps the child.
    private func terminateGroup(_ pid: pid_t, status: inout Int32) {
        kill(-pid, SIGTERM)
        if !waitForExit(pid, status: &status, deadline: monotonicSeconds() + 0.1) {
            kill(-pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        kill(-pid, SIGKILL)
    }
}

private let spawnLock = Mutex()

/// The environment variable that marks every process a command started.
public let commandTokenVariable = "PROVENANCE_COMMAND_TOKEN"

/// Kills (SIGKILL) every process whose environment carries `PROVENANCE_COMMAND_TOKEN=token`,
/// again until none is left (one may fork while the scan runs), at most 50 rounds.
///
/// `startedAfter`: the last process id the kernel had handed out before the command was
/// spawned (`lastAllocatedProcessID`), when the command ended by itself within a second. Process
/// ids are handed out in increasing order, wrapping at `pid_max`, so everything the command
/// started has an id in the cyclic range after it, up to the last one handed out now: only those
/// processes' environments are read (on this machine, 89 processes: the scan after each command
/// read 89 environments; now the command's own few). A full lap of the ids within one second
/// is not possible in practice; a command that ran longer, or timed out, gets the full scan.
func killTagged(_ token: String, startedAfter: pid_t?) {
    let needle = Array("\(commandTokenVariable)=\(token)".utf8) + [0]
    for _ in 0..<50 {
        var range: (after: pid_t, upTo: pid_t)?
        if let startedAfter, let last = lastAllocatedProcessID(), procIsThisNamespace() { range = (startedAfter, last) }
        let (found, unreadable) = processesCarrying(needle, idsIn: range)
        // A process in the middle of `execve` shows an empty environment for a moment (the new
        // program's is not set up yet): among the few processes started since the command, look
        // again rather than let it go. (A full scan would find every kernel thread empty.)
        if found.isEmpty && (range == nil || unreadable.isEmpty) { return }
        for pid in found { kill(pid, SIGKILL) }
        usleep(2_000)
    }
}

/// The last process id handed out in this process's PID namespace (the fifth field of
/// `/proc/loadavg`), nil if it cannot be read.
func lastAllocatedProcessID() -> pid_t? {
    let fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 128)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0 else { return nil }
    let fields = buffer[0..<count].split(whereSeparator: { $0 == 0x20 || $0 == 0x0A })
    guard fields.count >= 5 else { return nil }
    return pid_t(String(decoding: fields[4], as: UTF8.self))
}

/// Whether `/proc` shows this process's PID namespace (`/proc/self` names `getpid()`), so the
/// ids `/proc/loadavg` gives are those of `/proc`'s entries.
private func procIsThisNamespace() -> Bool {
    var buffer = [CChar](repeating: 0, count: 32)
    let count = readlink("/proc/self", &buffer, buffer.count - 1)
    guard count > 0 else { return false }
    return pid_t(String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)) == getpid()
}

/// Whether `pid` lies in the cyclic range `(after, upTo]` of process ids handed out in order.
func processID(_ pid: pid_t, isIn range: (after: pid_t, upTo: pid_t)) -> Bool {
    range.after <= range.upTo ? (pid > range.after && pid <= range.upTo) : (pid > range.after || pid <= range.upTo)
}

/// The processes (other than this one) whose `/proc/PID/environ` holds `needle` (a
/// `NAME=VALUE\0` entry) at the start or after a NUL; with `idsIn`, only those whose process
/// id is in that cyclic range (`processID(_:isIn:)`). Also those whose environment read empty
/// (a kernel thread, or a process in the middle of `execve`).
func processesCarrying(_ needle: [UInt8], idsIn range: (after: pid_t, upTo: pid_t)? = nil)
    -> (found: [pid_t], unreadable: [pid_t])
{
    guard let proc = opendir("/proc") else { return ([], []) }
    defer { closedir(proc) }
    var result: [pid_t] = []
    var unreadable: [pid_t] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    let me = getpid()
    while let entry = readdir(proc) {
        let name = withUnsafePointer(to: entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        guard let pid = pid_t(name), pid != me else { continue }
        if let range, !processID(pid, isIn: range) { continue }
        let fd = open("/proc/\(name)/environ", O_RDONLY | O_CLOEXEC)
        if fd < 0 { continue }
        var environ: [UInt8] = []
        while environ.count < 1 << 20 {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            environ.append(contentsOf: buffer[0..<count])
        }
        close(fd)
        if environ.isEmpty && isExecuting(name) { unreadable.append(pid) }
        if contains(environ, needle) { result.append(pid) }
    }
    return (result, unreadable)
}

/// Whether process `pid` (a `/proc` entry name) is neither dead, a zombie nor a kernel thread: then an
/// empty environment means it is in the middle of `execve` (`/proc/PID/stat`: the state after
/// the command name, and the `PF_KTHREAD` bit of the flags, the seventh field after it).
private func isExecuting(_ pid: String) -> Bool {
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 1024)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0, let close = buffer[0..<count].lastIndex(of: UInt8(ascii: ")")) else { return false }
    let fields = buffer[(close + 1)..<count].split(separator: UInt8(ascii: " "))
    guard fields.count > 6, let flags = UInt64(String(decoding: fields[6], as: UTF8.self)) else { return false }
    let kernelThread: UInt64 = 0x0020_0000
    let state = fields[0].first
    return state != UInt8(ascii: "Z") && state != UInt8(ascii: "X") && flags & kernelThread == 0
}

private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard needle.count <= haystack.count else { return false }
    var start = 0
    while start + needle.count <= haystack.count {
        if haystack[start] == needle[0] && Array(haystack[start..<start + needle.count]) == needle { return true }
        // Entries are NUL-separated: go to the next one.
        guard let next = haystack[start...].firstIndex(of: 0) else { return false }
        start = next + 1
    }
    return false
}

private func makeCloseOnExecPipe(_ fds: inout [Int32]) -> Bool {
    guard pipe(&fds) == 0 else { return false }
    _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
    return true
}

/// Reads several pipes with `poll` until all are closed or a deadline passes.
private struct OutputCollector {
    var fds: [Int32]
    var buffers: [[UInt8]]
    var open: [Bool]
    let cap: Int
    var truncated = false

    init(fds: [Int32], cap: Int) {
        self.fds = fds
        self.buffers = Array(repeating: [], count: fds.count)
        self.open = Array(repeating: true, count: fds.count)
        self.cap = cap
    }

    /// Reads until every pipe is closed or the deadline passes, checking `leaderExited` between
    /// reads; once the leader has exited, gives the pipes 100 ms more. Returns whether the leader
    /// was seen to exit.
    mutating func readUntilClosed(deadline: Double, leaderExited: () -> Bool) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var deadline = deadline
        var exited = false
        while open.contains(true) {
            let remaining = deadline - monotonicSeconds()
            if remaining <= 0 { break }
            var pollFds = fds.indices.filter { open[$0] }.map { pollfd(fd: fds[$0], events: Int16(POLLIN), revents: 0) }
            let ready = poll(&pollFds, nfds_t(pollFds.count), Int32(min(remaining * 1000 + 1, 50)))
            if ready < 0 && errno != EINTR { break }
            for entry in pollFds where entry.revents != 0 {
                let index = fds.firstIndex(of: entry.fd)!
                let count = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    let room = max(0, cap - buffers[index].count)
                    buffers[index].append(contentsOf: chunk[0..<min(count, room)])
                    if count > room { truncated = true }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    open[index] = false
                }
            }
            if ready == 0 && !exited && leaderExited() {
                exited = true
                deadline = min(deadline, monotonicSeconds() + 0.1)
            }
        }
        return exited
    }

    mutating func closeAll() {
        for fd in fds { close(fd) }
        open = Array(repeating: false, count: fds.count)
    }
}

/// Seconds on a monotonic clock.
public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
