import ArgumentParser
import ProvenanceProbes

/// What `capture` and `run` record about the job besides the machine: extra environment
/// variables, seeds and parameters.
struct JobOptions: ParsableArguments {
    @Option(name: .customLong("env"),
            help: ArgumentHelp("Also record environment variables matching this pattern, e.g. 'MYLAB_*' (repeatable).",
                               valueName: "PATTERN"))
    var environmentPatterns: [String] = []

    @Option(name: .customLong("seed"), help: ArgumentHelp("A seed of the run (repeatable).", valueName: "NAME=VALUE"))
    var seeds: [String] = []

    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter of the run (repeatable).", valueName: "KEY=VALUE"))
    var parameters: [String] = []

    /// Sets the probes' configuration for the job whose command line is `command`; a malformed
    /// `--seed` or `--param` is a usage error.
    func configure(_ configuration: inout ProbeConfiguration, command: [String]) throws {
        configuration.environmentPatterns = environmentPatterns
        configuration.commandLine = command
        configuration.seeds = try keyValues(seeds, option: "--seed")
        configuration.parameters = try keyValues(parameters, option: "--param")
    }
}
