import ProvenanceCore
import ProvenanceProbeKit

/// The run being prepared: the job's command line, seeds and parameters from the pre-run hook,
/// the working directory and user.
///
/// Reads nothing from the machine but the process identity (live only). The command line is the
/// part after `--` of `provenance capture … -- COMMAND ARGS` (or what `provenance run` starts);
/// secret-looking arguments (`--password=…`, `--token X`, URLs with userinfo, credential-shaped
/// words) are masked before they are recorded.
public struct RunProbe: Probe {
    public var commandLine: [String]
    public var seeds: [String: String]
    public var parameters: [String: String]

    public init(commandLine: [String] = [], seeds: [String: String] = [:], parameters: [String: String] = [:]) {
        self.commandLine = commandLine
        self.seeds = seeds
        self.parameters = parameters
    }

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "run", version: "1.0.0",
            summary: "The job's command line (secrets masked), --seed and --param values, working directory, user id",
            reads: ["getcwd, getuid, getgid (live only)"])
    }

    public typealias Output = RunSection

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        func masked(_ values: [String: String]) -> [String: String]? {
            guard !values.isEmpty else { return nil }
            var result: [String: String] = [:]
            for (key, value) in values { result[key] = Secrets.maskValue(value, name: key) }
            return result
        }
        return Output(
            commandLine: commandLine.isEmpty ? nil : Secrets.maskCommandLine(commandLine),
            seeds: masked(seeds), parameters: masked(parameters),
            workingDirectory: context.process.workingDirectory.map(Secrets.maskURL),
            userID: context.process.userID, groupID: context.process.groupID)
    }
}
