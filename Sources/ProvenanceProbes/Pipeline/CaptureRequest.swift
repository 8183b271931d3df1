import ProvenanceCore
import ProvenanceProbeKit

/// Everything one capture is asked to do, whichever command asks (`capture`, `run`, `verify`):
/// the machine, the probes, their deadlines and caches, the job, the repositories and datasets,
/// and where the manifest goes. `CapturePlan` validates it; nothing here is checked yet.
public struct CaptureRequest: Sendable {
    /// Which probes run.
    public enum Selection: Sendable, Equatable {
        /// `--only`, `--probe`, `--no-probe` (probe ids; unknown ids are usage errors).
        case flags(only: [String], also: [String], without: [String])
        /// Exactly the probes of these section ids that exist here (`verify`: the sections the
        /// recorded manifest captured); unknown ids are not run.
        case sections(Set<String>)
    }

    /// A recorded machine's directory (`--root`); nil for this machine.
    public var root: String?
    public var selection: Selection = .flags(only: [], also: [], without: [])
    /// Timeout of each command and default deadline of each probe, in seconds.
    public var timeout: Double = 5
    /// `--probe-timeout ID=SECONDS`, as given.
    public var probeTimeouts: [String] = []
    /// Site-probe directories besides the default ones (`--probes-dir`).
    public var probeDirectories: [String] = []
    /// Whether the caches (tool versions, PCI names, dataset stat cache) are used (`--no-cache`: false).
    public var useCache = true

    /// The job: extra environment patterns, command line, seeds, parameters.
    public var environmentPatterns: [String] = []
    public var commandLine: [String] = []
    public var seeds: [String] = []
    public var parameters: [String] = []

    /// `--repo PATH` (empty: the working directory's repository).
    public var repositories: [String] = []
    public var diffMaxBytes = GitProbe.defaultDiffMaxBytes

    /// `--dataset NAME=PATH`, as given.
    public var datasets: [String] = []
    public var datasetListLimit = 100_000
    public var datasetThreads: Int?
    /// Per dataset: list its files in the manifest or not, whatever the limit says (`verify`).
    public var datasetListFiles: [String: Bool] = [:]
    public var datasetProgress: DatasetProgress?
    /// `--sums FILE` (`-` for standard output).
    public var sums: String?

    /// Where the manifest goes: a path, or `-` for standard output.
    public var output = "env.json"
    /// Patches inside the manifest instead of files beside it.
    public var inlineDiff = false
    /// Other paths the capture's command writes (a run directory): never part of the git state.
    public var alsoWrites: [String] = []

    /// The process's environment (cache and site-probe directories) and working directory.
    public var environment: [String: String]
    public var workingDirectory: String
    public var clock: any WallClock

    public init(environment: [String: String], workingDirectory: String, clock: any WallClock = SystemClock()) {
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.clock = clock
    }
}

/// A request that cannot be carried out, with what kind of problem it is (for the exit code).
public struct CaptureRequestError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case usage, noInput, badInput }
    public let kind: Kind
    public let description: String
    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
