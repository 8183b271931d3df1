import ArgumentParser
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes
import ProvenanceTrace

#if canImport(Glibc)
import Glibc
#endif

/// The child being run, for the signal handler (written before the handler is installed).
nonisolated(unsafe) private var runningChild: pid_t = 0
/// A signal that arrived during the capture, before the child existed: delivered once it starts.
nonisolated(unsafe) private var pendingSignal: Int32 = 0

/// Forwards a signal another process sent to `provenance run` (a scheduler, `kill`) to the child.
/// Signals from the terminal (`^C`: si_code SI_KERNEL) already reach the whole foreground process
/// group, the child included: forwarding those would deliver them twice.
private func forwardSignal(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _: UnsafeMutableRawPointer?) {
    if let info, info.pointee.si_code == 0x80 /* SI_KERNEL */ { return }
    if runningChild > 0 { kill(runningChild, signal) } else { pendingSignal = signal }
}

private let forwardedSignals = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2]

/// From here on, forwarded signals are kept for the child instead of ending provenance.
private func installForwarding() {
    for signal in forwardedSignals {
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = forwardSignal
        action.sa_flags = SA_SIGINFO | SA_RESTART
        sigemptyset(&action.sa_mask)
        sigaction(signal, &action, nil)
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Capture the environment, then run a job command and record how it ended (the pre-run hook).",
        discussion: """
            Writes env.json (the manifest, with the command line in its run section) and run.json \
            (start and end time, exit status, sha256 of each --output file) into the run directory: \
            --out DIR, or runs/<UTC start time>-<first 12 hex of the fingerprint> \
            (runs/20261123T171500Z-3f2a9c0b1d7e). The command inherits standard input, output and \
            error; SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to provenance are \
            forwarded to it. A capture problem (a failed probe, an unwritable env.json) is reported \
            on standard error and never stops the job, unless --strict: then the command is not run \
            and the exit status is 1. Exit status: the command's; 128+N when it was killed by \
            signal N; 127 when it cannot be started.
            """)

    @Option(help: ArgumentHelp("The run directory (default: runs/<UTC time>-<short fingerprint>).", valueName: "DIR"))
    var out: String?

    @Option(name: .customLong("output"),
            help: ArgumentHelp("A result or checkpoint file to digest when the command ends (repeatable).", valueName: "PATH"))
    var outputs: [String] = []

    @Flag(help: "Do not run the command when the capture fails or a probe fails.") var strict = false

    @OptionGroup var job: JobOptions

    @Option(help: ArgumentHelp("Timeout of each capture command and probe.", valueName: "SECONDS")) var timeout: Double = 5

    // --- trace hook (ProvenanceTrace, docs/trace.md): options.
    @Flag(help: "Record the files the command and every process it starts read, write and execute (run.json: trace).")
    var trace = false
    @Option(name: .customLong("trace-include"),
            help: ArgumentHelp("With --trace: list files under this absolute path even in a summarised system tree (repeatable).", valueName: "PATH"))
    var traceInclude: [String] = []
    @Option(name: .customLong("trace-exclude"),
            help: ArgumentHelp("With --trace: summarise files under this absolute path instead of listing them (repeatable).", valueName: "PATH"))
    var traceExclude: [String] = []
    // --- end of trace hook.

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run, after '--'.", valueName: "COMMAND"))
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command to run after '--'") }
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
        // Trace hook.
        if !trace && !(traceInclude.isEmpty && traceExclude.isEmpty) {
            throw ValidationError("--trace-include and --trace-exclude need --trace")
        }
        if let relative = (traceInclude + traceExclude).first(where: { !$0.hasPrefix("/") }) {
            throw ValidationError("--trace-include/--trace-exclude take absolute paths: '\(relative)'")
        }
    }

    func run() throws {
        installForwarding()
        let clock = SystemClock()
        let start = clock.secondsSinceEpoch()
        let started = monotonicSeconds()
        var problems: [String] = []

        // 1. Capture.
        var configuration = ProbeConfiguration()
        try job.configure(&configuration, command: command)
        configuration.commandCache = CommandCache(environment: processEnvironment())
        let attachments = AttachmentStore()
        configuration.attachments = attachments
        var capture = Capture(probes: BuiltinProbes.all(configuration), enabled: nil, timeout: timeout,
                              toolVersion: ProvenanceVersion.current)
        capture.grace = min(0.5, timeout / 2)
        var manifest = capture.run(on: Machine.live(clock: clock))
        let fingerprint = manifest.fingerprint
        for (id, section) in manifest.sections.sorted(by: { $0.key < $1.key }) where section.status == .failed {
            problems.append("probe \(id) failed: \(section.issues.first?.message ?? "no reason given")")
        }

        // 2. The run directory and env.json.
        let directory = out ?? "runs/\(RunCommand.compactTime(start))-\(fingerprint.dropFirst(7).prefix(12))"
        var manifestWritten = false
        if makeDirectories(directory) {
            do {
                // The git patch goes beside env.json (env.diff.patch), written with it.
                let output = directory + "/env.json"
                let patchFiles = attachPatches(to: &manifest, from: attachments, output: output, inline: false)
                try AtomicFile.write(patchFiles + [(output, CanonicalJSON.pretty(manifest.json))])
                manifestWritten = true
            } catch {
                problems.append("cannot write \(directory)/env.json: \(error)")
            }
        } else {
            problems.append("cannot create the run directory \(directory): \(String(cString: strerror(errno)))")
        }
        for problem in problems { printError("provenance run: \(problem)") }
        if strict && !problems.isEmpty {
            throw UserError(message: "run: not starting the command (--strict and the capture had problems)", code: Exit.failure)
        }

        // Trace hook: the interposer's environment for the command (a problem is reported, the job runs untraced).
        var traceSession: TraceSession?
        var traceFailure: String?
        if trace {
            do {
                let library = try TraceSession.locateLibrary(environment: processEnvironment())
                traceSession = try TraceSession(library: library, parent: TraceSession.segmentParent(runDirectory: manifestWritten ? directory : "/tmp"),
                                                filter: TraceFilter(include: traceInclude, exclude: traceExclude))
            } catch {
                traceFailure = error.description
                printError("provenance run: --trace: \(error.description); running the command untraced")
            }
        }

        // 3. The command.
        let status = spawnAndWait(command, environment: traceSession?.environment())
        let end = clock.secondsSinceEpoch()

        // 4. run.json.
        var record: [String: JSONValue] = [
            "runRecordVersion": "1.0.0",
            "command": .array(Secrets.maskCommandLine(command).map { .string($0) }),
            "startTime": .string(Timestamp.rfc3339(secondsSinceEpoch: start)),
            "endTime": .string(Timestamp.rfc3339(secondsSinceEpoch: end)),
            "durationMs": .int(Int64((monotonicSeconds() - started) * 1000)),
            "fingerprint": .string(fingerprint),
            "outputs": .array(outputs.map(RunCommand.digestRecord)),
        ]
        if manifestWritten { record["manifest"] = "env.json" }
        if !problems.isEmpty { record["captureProblems"] = .array(problems.map { .string($0) }) }
        if let hostName = manifest.hostName { record["hostName"] = .string(hostName) }
        // Trace hook: what the job read, wrote and executed.
        if let traceSession {
            record["trace"] = traceSession.finish(command: command[0], environment: processEnvironment())
        } else if let traceFailure {
            record["trace"] = ["failed": .string(traceFailure)]
        }
        switch status {
        case .exited(let code): record["exit"] = ["code": .int(Int64(code))]
        case .signaled(let signal): record["exit"] = ["signal": .int(Int64(signal))]
        case .notStarted(let reason): record["exit"] = ["notStarted": .string(reason)]
        }
        do {
            try AtomicFile.write(CanonicalJSON.pretty(.object(record)), to: directory + "/run.json")
        } catch {
            printError("provenance run: cannot write \(directory)/run.json: \(error)")
        }
        switch status {
        case .exited(let code): if code != 0 { throw ExitCode(code) }
        case .signaled(let signal): throw ExitCode(128 + signal)
        case .notStarted(let reason):
            printError("provenance run: cannot start \(command[0]): \(reason)")
            throw ExitCode(127)
        }
    }

    enum Status { case exited(Int32), signaled(Int32), notStarted(String) }

    /// Starts the command with the inherited standard streams, default signal handling and an
    /// empty signal mask, forwards signals to it and waits.
    private func spawnAndWait(_ arguments: [String], environment: [UnsafeMutablePointer<CChar>?]? = nil) -> Status {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        let forwarded = forwardedSignals
        for signal in forwarded + [SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        // Block the forwarded signals while starting, so none is lost between spawn and handler.
        var previous = sigset_t()
        var block = sigset_t()
        sigemptyset(&block)
        for signal in forwarded { sigaddset(&block, signal) }
        pthread_sigmask(SIG_BLOCK, &block, &previous)
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let code = environment.map { posix_spawnp(&pid, arguments[0], nil, &attributes, argv, $0) }
            ?? posix_spawnp(&pid, arguments[0], nil, &attributes, argv, environ)
        if code != 0 {
            pthread_sigmask(SIG_SETMASK, &previous, nil)
            return .notStarted(String(cString: strerror(code)))
        }
        runningChild = pid
        if pendingSignal != 0 { kill(pid, pendingSignal) }
        var unblock = previous
        for signal in forwarded { sigdelset(&unblock, signal) }
        pthread_sigmask(SIG_SETMASK, &unblock, nil)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return .notStarted("waitpid: \(String(cString: strerror(errno)))") }
        }
        if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
        return .signaled(status & 0x7f)
    }

    /// `{path, sha256, bytes}`, or `{path, missing: true}`, or `{path, error}`.
    static func digestRecord(_ path: String) -> JSONValue {
        do {
            let (digest, bytes) = try FileSHA256.sha256AndSize(path: path)
            return ["path": .string(path), "sha256": .string("sha256:" + digest), "bytes": .int(bytes)]
        } catch {
            return error.missing ? ["path": .string(path), "missing": true]
                : ["path": .string(path), "error": .string(error.description)]
        }
    }

    /// `20261123T171500Z`.
    static func compactTime(_ seconds: Int64) -> String {
        Timestamp.rfc3339(secondsSinceEpoch: seconds).filter { $0 != "-" && $0 != ":" }
    }

    private func makeDirectories(_ path: String) -> Bool {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return false }
        }
        return true
    }

}
