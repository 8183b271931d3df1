import ProvenanceProbeKit

/// What the command line tells the built-in probes.
public struct ProbeConfiguration: Sendable {
    /// Extra environment allow-list patterns (`capture --env`).
    public var environmentPatterns: [String] = []
    /// The job's command line (after `--`), its seeds and parameters.
    public var commandLine: [String] = []
    public var seeds: [String: String] = [:]
    public var parameters: [String: String] = [:]
    /// Remembers version outputs between captures (live machines only).
    public var commandCache: CommandCache?
    /// `capture --repo`: the repositories of the git probe (empty: the working directory's).
    public var repositories: [String] = []
    /// `capture --diff-max-bytes`: the largest git patch kept.
    public var diffMaxBytes = GitProbe.defaultDiffMaxBytes
    /// Where the git probe leaves its patches for the command line to write.
    public var attachments: AttachmentStore?
    /// What the capture writes (manifest, patches, sidecars, sums, run directory): paths the git
    /// probe leaves out of the recorded state.
    public var excludedPaths: [String] = []

    public init() {}
}

/// The probes compiled into provenance, in the order `provenance probes` lists them.
public enum BuiltinProbes {
    public static var all: [any Probe] { all(ProbeConfiguration()) }

    public static func all(_ configuration: ProbeConfiguration) -> [any Probe] {
        [
            OSProbe(), CPUProbe(), MemoryProbe(), NVIDIAProbe(), AMDProbe(), CUDAProbe(), PCIProbe(cache: configuration.commandCache),
            ContainerProbe(), SchedulerProbe(),
            LibcProbe(), DpkgProbe(), RpmProbe(), ApkProbe(), PythonProbe(),
            ToolchainsProbe(cache: configuration.commandCache),
            EnvironmentProbe(extraPatterns: configuration.environmentPatterns),
            RunProbe(commandLine: configuration.commandLine, seeds: configuration.seeds,
                     parameters: configuration.parameters),
            GitProbe(repositories: configuration.repositories, diffMaxBytes: configuration.diffMaxBytes,
                     patches: configuration.attachments, excluding: configuration.excludedPaths),
            // Configured by `capture --dataset` (the command swaps in a configured one).
            DatasetsProbe(),
        ]
    }
}
