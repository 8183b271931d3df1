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
/// The command's resource usage as `wait4` reports it (the command and the children it waited for).
nonisolated(unsafe) private var childUsage: rusage?

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
        // Parsed on its own before every job (`Provenance.parseSubcommandAlone`, which leaves
        // completion requests to the whole tree): a super-command name makes ArgumentParser skip
        // its completion-script check, two extra parses costing 0.7 ms of CPU a start. Help and
        // usage are generated from the root command, whose name they keep.
        _superCommandName: "provenance",
        abstract: "Capture the environment, then run a job command and record how it ended (the pre-run hook).",
        discussion: """
            Writes env.json (the manifest, with the command line in its run section; the same \
            capture as `provenance capture`, with the same options) and run.json (start and end \
            time, exit status, sha256 of each --output) into the run directory: --out DIR, or \
            runs/<UTC start time>-<first 12 hex of the fingerprint> (runs/20261123T171500Z-3f2a9c0b1d7e), \
            printed on standard error. An existing run directory is never written into: --out onto \
            one is an error (73) before anything runs. The command gets PROVENANCE_RUN_DIR, \
            PROVENANCE_MANIFEST and each --seed NAME=VALUE as PROVENANCE_SEED_<NAME> in its \
            environment, and inherits standard input, output and error; SIGINT, SIGTERM, SIGHUP, \
            SIGQUIT, SIGUSR1 and SIGUSR2 sent to provenance are forwarded to it. A capture problem \
            (a failed probe, an unwritable env.json) is reported on standard error and never stops \
            the job, unless --strict: then the command is not run and the exit status is 1. Exit \
            status: the command's; 128+N when it was killed by signal N; 127 when it cannot be started.
            """)

    @Option(help: ArgumentHelp("The run directory (default: runs/<UTC time>-<short fingerprint>); must not exist yet.",
                               valueName: "DIR"))
    var out: String?

    @Option(name: .customLong("output"),
            help: ArgumentHelp("A result file, directory or glob to digest when the command ends (repeatable).",
                               valueName: "PATH"))
    var outputs: [String] = []

    @Option(name: .customLong("config"),
            help: ArgumentHelp("A config file of the job (YAML, JSON or TOML; repeatable, later files override earlier ones): its values go into run.json tagged by file.",
                               valueName: "FILE"))
    var configs: [String] = []

    @Flag(help: "Do not run the command when the capture fails or a probe fails.") var strict = false

    @OptionGroup var options: CaptureOptions
    @OptionGroup var job: JobOptions

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
        if let problem = RunJob.problem(command: command, trace: trace, traceInclude: traceInclude, traceExclude: traceExclude) {
            throw ValidationError(problem)
        }
    }

    func run() throws {
        try runJob().run()
    }

    /// The job this command line asks for.
    func runJob() -> RunJob {
        RunJob(out: out, outputs: outputs, configs: configs, strict: strict, quiet: options.quiet, noCache: options.noCache,
               trace: trace, traceInclude: traceInclude, traceExclude: traceExclude, command: command,
               request: {
                   var request = try options.request(output: "env.json")
                   job.apply(to: &request, command: command)
                   return request
               })
    }

    /// `NAME` as an environment variable name: upper case, anything but letters and digits `_`.
    static func environmentName(_ name: String) -> String {
        String(name.uppercased().unicodeScalars.map { scalar -> Character in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)) ? Character(scalar) : "_"
        })
    }

    /// Our MLflow tags added to a run context the user already set (theirs win on equal keys).
    static func merged(_ ours: String, into theirs: String?) -> String {
        guard let theirs, case .object(let existing)? = try? JSONParser.parse(Array(theirs.utf8)),
              case .object(var tags)? = try? JSONParser.parse(Array(ours.utf8))
        else { return ours }
        tags.merge(existing) { _, user in user }
        return String(decoding: CanonicalJSON.serialize(.object(tags)), as: UTF8.self)
    }

    /// `path`, or `path-2`, `path-3`, … : the first that does not exist yet.
    static func newDirectory(_ path: String) -> String {
        guard exists(path) else { return path }
        var number = 2
        while exists("\(path)-\(number)") { number += 1 }
        return "\(path)-\(number)"
    }

    /// Whether anything (a symbolic link too) is at `path`.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Whether `path` is a directory with nothing in it.
    static func isEmptyDirectory(_ path: String) -> Bool {
        guard let directory = opendir(path) else { return false }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { return false }
        }
        return true
    }

    /// `20261123T171500Z`.
    static func compactTime(_ seconds: Int64) -> String {
        Timestamp.rfc3339(secondsSinceEpoch: seconds).filter { $0 != "-" && $0 != ":" }
    }
}

/// What a `run` command line asks for, however it was read (ArgumentParser or `QuickRunLine`),
/// and the run itself.
struct RunJob {
    var out: String?
    var outputs: [String] = []
    var configs: [String] = []
    var strict = false
    var quiet = false
    var noCache = false
    var trace = false
    var traceInclude: [String] = []
    var traceExclude: [String] = []
    var command: [String] = []
    /// The capture's request, made once the run directory and the config files are checked (a
    /// bad `SOURCE_DATE_EPOCH` is reported after those, whichever reader read the line).
    var request: () throws -> CaptureRequest

    /// Why a `run` line cannot run, or nil: `RunCommand.validate()`'s rules, which
    /// `QuickRunLine` leaves to ArgumentParser to report.
    static func problem(command: [String], trace: Bool, traceInclude: [String], traceExclude: [String]) -> String? {
        if command.isEmpty { return "give the command to run after '--'" }
        // Trace hook.
        if !trace && !(traceInclude.isEmpty && traceExclude.isEmpty) {
            return "--trace-include and --trace-exclude need --trace"
        }
        if let relative = (traceInclude + traceExclude).first(where: { !$0.hasPrefix("/") }) {
            return "--trace-include/--trace-exclude take absolute paths: '\(relative)'"
        }
        return nil
    }

    func run() throws {
        installForwarding()
        let clock = SystemClock()
        let start = clock.secondsSinceEpoch()
        let started = monotonicSeconds()
        var problems: [String] = []
        if let out, RunCommand.exists(out), !RunCommand.isEmptyDirectory(out) {
            throw UserError(message: "run directory \(out) already exists and is not empty: give another --out (nothing was run)",
                            code: Exit.cannotWrite)
        }

        // Parameters: config files (read before anything runs: a bad one stops here), then --param.
        var parameters = RunParameters()
        for path in configs {
            let (format, document) = try readConfigFile(path)
            parameters.addConfig(path: path, format: format, document: document)
        }

        // 1. Capture, with the run directory (or runs/) kept out of the git state.
        var request = try self.request()
        // The default runs/ and this run directory: what every `run` writes.
        request.alsoWrites = ["runs"] + (out.map { [$0] } ?? [])
        let capturePlan = try plan(request)
        var outcome = capture(capturePlan)
        parameters.addUser(capturePlan.parameters)
        let fingerprint = outcome.manifest.fingerprint
        for (id, section) in outcome.manifest.sections.sorted(by: { $0.key < $1.key }) where section.status == .failed {
            problems.append("probe \(id) failed: \(section.issues.first?.message ?? "no reason given")")
        }

        // 2. The run directory and env.json (with its patches).
        let directory = out ?? RunCommand.newDirectory("runs/\(RunCommand.compactTime(start))-\(fingerprint.dropFirst(7).prefix(12))")
        var manifestWritten = false
        if makeDirectories(directory) {
            outcome.move(toDirectory: directory)
            do {
                try outcome.write()
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
        if !quiet { printError("provenance run: \(directory) (\(outcome.statusSummary); \(fingerprint))") }
        // Determinism advice: warnings only, the job runs regardless.
        for advice in outcome.determinism {
            printError("provenance run: warning: \(advice.variable) is not set (\(advice.framework): \(advice.reason)); "
                + "export \(advice.variable)=\(advice.recommended)")
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

        // 3. The command, told where its run directory is and what its seeds are.
        var environment = processEnvironment()
        let absoluteDirectory = absolutePath(directory)
        environment["PROVENANCE_RUN_DIR"] = absoluteDirectory
        if manifestWritten { environment["PROVENANCE_MANIFEST"] = absoluteDirectory + "/env.json" }
        // Experiment trackers: MLflow tags every run the job starts with MLFLOW_RUN_CONTEXT; for
        // W&B, PROVENANCE_WANDB_CONFIG names a config file for `wandb.init(config=…)` (wandb 0.31
        // rejects WANDB_CONFIG_PATHS from the environment with a validation error, so it is not set)
        // and WANDB_DOCKER records the image.
        let summary = TrackerSummary(manifest: outcome.manifest, fingerprint: fingerprint, runDirectory: absoluteDirectory)
        environment["MLFLOW_RUN_CONTEXT"] = RunCommand.merged(summary.mlflowRunContext, into: environment["MLFLOW_RUN_CONTEXT"])
        if (try? AtomicFile.write(Array(summary.wandbConfigYAML.utf8), to: absoluteDirectory + "/wandb-config.yaml",
                                  durable: false)) != nil {
            environment["PROVENANCE_WANDB_CONFIG"] = absoluteDirectory + "/wandb-config.yaml"
        }
        if environment["WANDB_DOCKER"] == nil, let digest = summary.values["provenance.image.digest"] {
            environment["WANDB_DOCKER"] = digest
        }
        for (name, value) in capturePlan.seeds {
            environment["PROVENANCE_SEED_" + RunCommand.environmentName(name)] = value
        }
        if let traceSession {
            for (name, value) in traceSession.variables(preload: environment["LD_PRELOAD"]) { environment[name] = value }
        }
        let status = spawnAndWait(command, environment: environment)
        let end = clock.secondsSinceEpoch()

        // 4. run.json, with the values the job derived (params.json in its run directory).
        if let bytes = try? RootedFileSystem().readBytes(absoluteDirectory + "/params.json") {
            do {
                parameters.addDerived(try JSONParser.parse(bytes))
            } catch {
                problems.append("\(directory)/params.json is not JSON: \(error)")
                printError("provenance run: \(problems.last!)")
            }
        }
        let outputCache = noCache ? nil : DatasetCache.defaultDirectory(environment: processEnvironment())
        var record: [String: JSONValue] = [
            "runRecordVersion": "1.1.0",
            "command": .array(Secrets.maskCommandLine(command).map { .string($0) }),
            "startTime": .string(Timestamp.rfc3339(secondsSinceEpoch: start)),
            "endTime": .string(Timestamp.rfc3339(secondsSinceEpoch: end)),
            "durationMs": .int(Int64((monotonicSeconds() - started) * 1000)),
            "fingerprint": .string(fingerprint),
            "outputs": .array(outputs.flatMap {
                RunOutputs.records(for: $0, workingDirectory: currentDirectory(), cacheDirectory: outputCache)
            }),
        ]
        if manifestWritten { record["manifest"] = "env.json" }
        // Compute used (render's summary): the largest resident set of the command or a process it
        // waited for (Linux reports ru_maxrss in KiB) and the CPU time they spent.
        var own = rusage()
        getrusage(RUSAGE_SELF.rawValue, &own)
        let launcherMaxRSS = Int64(own.ru_maxrss) * 1024
        if let usage = childUsage {
            record["resources"] = [
                "maxRSSBytes": .int(Int64(usage.ru_maxrss) * 1024),
                // Linux carries the spawning process's peak into the child's at exec: a peak at
                // or below provenance's own says only "at most this much".
                "launcherMaxRSSBytes": .int(launcherMaxRSS),
                "userCPUMs": .int(Int64(usage.ru_utime.tv_sec) * 1000 + Int64(usage.ru_utime.tv_usec) / 1000),
                "systemCPUMs": .int(Int64(usage.ru_stime.tv_sec) * 1000 + Int64(usage.ru_stime.tv_usec) / 1000),
            ]
        }
        if !parameters.entries.isEmpty || !parameters.configs.isEmpty { record["parameters"] = parameters.json }
        if !problems.isEmpty { record["captureProblems"] = .array(problems.map { .string($0) }) }
        if let hostName = outcome.manifest.hostName { record["hostName"] = .string(hostName) }
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
    private func spawnAndWait(_ arguments: [String], environment: [String: String]) -> Status {
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
        let envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        // posix_spawnp searches the PATH of provenance's environment, as a shell would have.
        let code = posix_spawnp(&pid, arguments[0], nil, &attributes, argv, envp)
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
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            if errno != EINTR { return .notStarted("waitpid: \(String(cString: strerror(errno)))") }
        }
        childUsage = usage
        if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
        return .signaled(status & 0x7f)
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

/// `run`'s command line in the forms typed before every job, read without ArgumentParser
/// (`QuickLine` says why and how): `-q`/`--quiet`, `--no-cache`, `--strict`, `--trace`; `--out`;
/// `--output`, `--config`, `--trace-include`, `--trace-exclude`; `--root`, `--only`, `--probe`,
/// `--no-probe`, `--repo`, `--env`, `--dataset`, `--seed`, `--param`; then `--` and the command.
/// A line `RunCommand.validate()` would refuse is left to ArgumentParser, which reports it.
/// `QuickRunLineTests` holds it and ArgumentParser to the same job on a corpus of command lines.
struct QuickRunLine {
    static let grammar = QuickLine.Grammar(
        flags: QuickLine.captureFlags.union(["strict", "trace"]),
        valueOptions: QuickLine.captureValueOptions.merging(
            ["out": false, "output": true, "config": true, "trace-include": true, "trace-exclude": true]) { shared, _ in shared },
        shortNames: ["-q": "quiet"])

    let line: QuickLine

    /// The line after `run`, or nil when ArgumentParser has to read it.
    static func parse(_ arguments: [String]) -> QuickRunLine? {
        guard let line = QuickLine.parse(arguments, grammar),
              RunJob.problem(command: line.command, trace: line.flags.contains("trace"),
                             traceInclude: line.all("trace-include"), traceExclude: line.all("trace-exclude")) == nil
        else { return nil }
        return QuickRunLine(line: line)
    }

    /// The job, as `RunCommand.run()` makes it from the same line.
    var job: RunJob {
        let line = line
        let quiet = line.flags.contains("quiet")
        return RunJob(out: line.one("out"), outputs: line.all("output"), configs: line.all("config"),
                      strict: line.flags.contains("strict"), quiet: quiet, noCache: line.flags.contains("no-cache"),
                      trace: line.flags.contains("trace"), traceInclude: line.all("trace-include"),
                      traceExclude: line.all("trace-exclude"), command: line.command,
                      request: {
                          var request = try CaptureOptions.baseRequest()
                          line.apply(to: &request, quiet: quiet)
                          request.output = "env.json"
                          return request
                      })
    }
}
