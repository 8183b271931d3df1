import ProvenanceProbeKit

/// What the command line tells the built-in probes.
public struct ProbeConfiguration: Sendable {
    /// Extra environment allow-list patterns (`capture --env`).
    public var environmentPatterns: [String] = []
    /// The job's command line (after `--`), its seeds and parameters.
    public var commandLine: [String] = []
    public var seeds: [String: String] = [:]
    public var parameters: [String: String] = [:]
    /// The Python interpreter the job's command line starts (`JobInterpreter.python`), if any.
    public var pythonInterpreter: String?
    /// Remembers version outputs between captures (live machines only).
    public var commandCache: CommandCache?
    /// `capture --repo`: the repositories of the git probe (empty: the working directory's).
    public var repositories: [String] = []
    /// `capture --diff-max-bytes`: the largest git patch kept.
    public var diffMaxBytes = GitProbe.defaultDiffMaxBytes
    /// Files the capture itself writes (the manifest, its patches, sidecars, sums, a run
    /// directory), as absolute paths: never part of the git state it records.
    public var excludedPaths: [String] = []
    /// Where the git probe remembers repositories' states between captures (live machines, not
    /// with `--no-cache`); nil: not remembered.
    public var gitCacheDirectory: String?

    public init() {}
}

/// The probes compiled into provenance, in the order `provenance probes` lists them.
public enum BuiltinProbes {
    public static var all: [any Probe] { all(ProbeConfiguration()) }

    public static func all(_ configuration: ProbeConfiguration) -> [any Probe] {
        [
            OSProbe(), CPUProbe(), MemoryProbe(), CPUTuningProbe(), NVIDIAProbe(), NVIDIATopologyProbe(cache: configuration.commandCache), AMDProbe(), CUDAProbe(pythonInterpreter: configuration.pythonInterpreter), PCIProbe(cache: configuration.commandCache),
            ContainerProbe(), SchedulerProbe(), InfiniBandProbe(), MPIProbe(cache: configuration.commandCache),
            LibcProbe(cache: configuration.commandCache), DpkgProbe(), RpmProbe(), ApkProbe(), PythonProbe(interpreter: configuration.pythonInterpreter),
            SoftwareStackProbe(),
            ToolchainsProbe(cache: configuration.commandCache),
            EnvironmentProbe(extraPatterns: configuration.environmentPatterns),
            RunProbe(commandLine: configuration.commandLine, seeds: configuration.seeds,
                     parameters: configuration.parameters),
            GitProbe(repositories: configuration.repositories, diffMaxBytes: configuration.diffMaxBytes,
                     excluding: configuration.excludedPaths, cacheDirectory: configuration.gitCacheDirectory),
            // Configured by `capture --dataset` (the command swaps in a configured one).
            DatasetsProbe(),
        ]
    }
}
