import ArgumentParser
import ProvenanceProbeKit
import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#endif

/// The options of a capture, shared by `capture`, `run` and `verify`: the machine, the probes,
/// their deadlines and caches, repositories, datasets and the environment allow-list.
struct CaptureOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Capture a recorded machine: files under DIR, commands from DIR/commands/commands.json.",
                               valueName: "DIR"))
    var root: String?

    @Option(name: .customLong("probe"), help: ArgumentHelp("Also run this probe (repeatable).", valueName: "ID"))
    var probes: [String] = []

    @Option(name: .customLong("only"), help: ArgumentHelp("Run only these probes (repeatable).", valueName: "ID"))
    var onlyProbes: [String] = []

    @Option(name: .customLong("no-probe"), help: ArgumentHelp("Do not run this probe (repeatable).", valueName: "ID"))
    var disabledProbes: [String] = []

    @Option(help: ArgumentHelp("Timeout of each command and default deadline of each probe.", valueName: "SECONDS"))
    var timeout: Double = 5

    @Option(name: .customLong("probe-timeout"),
            help: ArgumentHelp("Deadline of one probe (repeatable).", valueName: "ID=SECONDS"))
    var probeTimeouts: [String] = []

    @Option(name: .customLong("probes-dir"),
            help: ArgumentHelp("Also load site probes (executables, JSON/YAML definitions) from DIR (repeatable).",
                               valueName: "DIR"))
    var probeDirectories: [String] = []

    @Option(name: .customLong("repo"),
            help: ArgumentHelp("Record this git repository (repeatable; default: the working directory's).",
                               valueName: "PATH"))
    var repositories: [String] = []

    @Option(help: ArgumentHelp("Largest git patch kept, in bytes (4 MiB); beyond it only the changed files and their blob ids.",
                               valueName: "BYTES"))
    var diffMaxBytes = GitProbe.defaultDiffMaxBytes

    @Option(name: .customLong("dataset"),
            help: ArgumentHelp("Hash a file or directory into the datasets section (repeatable).",
                               valueName: "NAME=PATH"))
    var datasets: [String] = []

    @Option(name: .customLong("dataset-list-limit"),
            help: ArgumentHelp("A dataset with more files lists them in a sidecar file beside the manifest (NAME.datasets.DATASET.sha256).",
                               valueName: "FILES"))
    var datasetListLimit = 100_000

    @Option(name: .customLong("dataset-threads"),
            help: ArgumentHelp("Threads hashing dataset files (default: the CPUs this process may use).", valueName: "N"))
    var datasetThreads: Int?

    @Flag(name: .customLong("no-cache"),
          help: "Use no cache: read every dataset file again, run every version command again, load pci.ids, read git repositories with libgit2.")
    var noCache = false

    @Option(name: .customLong("env"),
            help: ArgumentHelp("Also record environment variables matching this pattern, e.g. 'MYLAB_*' (repeatable).",
                               valueName: "PATTERN"))
    var environmentPatterns: [String] = []

    @Flag(name: .shortAndLong, help: "Do not print the summary line on standard error.")
    var quiet = false

    /// The request these options make, for a manifest written to `output`.
    func request(output: String) throws -> CaptureRequest {
        var request = try Self.baseRequest()
        request.root = root
        request.selection = .flags(only: onlyProbes, also: probes, without: disabledProbes)
        request.timeout = timeout
        request.probeTimeouts = probeTimeouts
        request.probeDirectories = probeDirectories
        request.useCache = !noCache
        request.environmentPatterns = environmentPatterns
        request.repositories = repositories
        request.diffMaxBytes = diffMaxBytes
        request.datasets = datasets
        request.datasetListLimit = datasetListLimit
        request.datasetThreads = datasetThreads
        request.datasetProgress = Self.datasetProgress(quiet: quiet, datasets: datasets)
        request.output = output
        return request
    }

    /// A request before any option: this process's environment, working directory and clock.
    static func baseRequest() throws -> CaptureRequest {
        CaptureRequest(environment: processEnvironment(), workingDirectory: currentDirectory(), clock: try clockFromEnvironment())
    }

    /// Progress of the hashing of `datasets` on standard error, when it is a terminal and not `quiet`.
    static func datasetProgress(quiet: Bool, datasets: [String]) -> DatasetProgress? {
        !quiet && isatty(2) != 0 && !datasets.isEmpty ? DatasetProgress() : nil
    }
}

/// Validates a request into a plan; a bad request is one line and its exit code.
func plan(_ request: CaptureRequest) throws -> CapturePlan {
    do {
        return try CapturePlan(request)
    } catch {
        let code = switch error.kind {
        case .usage: Exit.usage
        case .noInput: Exit.noInput
        case .badInput: Exit.badInput
        }
        throw UserError(message: error.description, code: code)
    }
}

/// Runs a plan, with the progress of dataset hashing on a terminal.
func capture(_ plan: CapturePlan) -> CaptureOutcome {
    let printer = plan.request.datasetProgress.map { DatasetProgressPrinter(progress: $0) }
    printer?.start()
    defer { printer?.stop() }
    return plan.run()
}

/// A fixed clock when `SOURCE_DATE_EPOCH` is set (reproducible captures), else the system clock.
func clockFromEnvironment() throws -> any WallClock {
    guard let value = processEnvironment()["SOURCE_DATE_EPOCH"] else { return SystemClock() }
    guard let seconds = Int64(value) else {
        throw UserError(message: "SOURCE_DATE_EPOCH must be an integer, got '\(value)'", code: Exit.usage)
    }
    return FixedClock(secondsSinceEpoch: seconds)
}
