import ArgumentParser
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        // Parsed on its own before every job (`Provenance.parseSubcommandAlone`, which leaves
        // completion requests to the whole tree): a super-command name makes ArgumentParser skip
        // its completion-script check, two extra parses costing 0.7 ms of CPU a start. Help and
        // usage are generated from the root command, whose name they keep.
        _superCommandName: "provenance",
        abstract: "Capture this machine (or a recorded one) into a manifest.",
        discussion: """
            Probes run concurrently; a probe that fails or hangs is reported in its section \
            (status failed, with the reason) and never stops the others. The manifest is written \
            atomically: an interrupted capture leaves the previous file intact.

            Git: the repository of the working directory is recorded (none under --root unless \
            --repo names one, as a path of the recorded machine). The patch of uncommitted \
            changes is written beside the manifest (env.json: env.diff.patch; several \
            repositories: env.diff.1.patch, env.diff.2.patch, ... in path order), or inline with \
            --inline-diff or -o -. Re-apply it on a clean checkout of the recorded commit with \
            `git apply --binary env.diff.patch`. The files a capture writes (the manifest, \
            patches, sidecars, sums) are never part of the git state it records.
            """)

    @Option(name: [.short, .customLong("output")], help: "Where to write the manifest ('-' for standard output).")
    var output = "env.json"

    @OptionGroup var options: CaptureOptions
    @OptionGroup var job: JobOptions

    @Flag(help: "Put the git patch inside the manifest instead of a file beside it.")
    var inlineDiff = false

    @Option(help: ArgumentHelp("Also write every dataset file's digest to FILE in `sha256sum -c` format (absolute paths).",
                               valueName: "FILE"))
    var sums: String?

    @Flag(help: "Write the compact canonical form (RFC 8785) instead of the indented one.")
    var canonical = false

    @Argument(parsing: .postTerminator,
              help: ArgumentHelp("The job's command line, after '--' (recorded with secrets masked).", valueName: "COMMAND"))
    var command: [String] = []

    func run() throws {
        try Self.run(try request(), canonical: canonical, quiet: options.quiet)
    }

    /// The request this command line makes.
    func request() throws -> CaptureRequest {
        var request = try options.request(output: output)
        job.apply(to: &request, command: command)
        request.inlineDiff = inlineDiff
        request.sums = sums
        return request
    }

    /// Captures, writes the manifest and says so (unless `quiet`): `capture` however its command
    /// line was read (`QuickCaptureLine`).
    static func run(_ request: CaptureRequest, canonical: Bool, quiet: Bool) throws {
        let outcome = capture(try plan(request))
        let fingerprint: String
        do {
            fingerprint = try outcome.write(canonical: canonical)
        } catch {
            throw UserError(message: error.description, code: Exit.cannotWrite)
        }
        if !quiet {
            let output = request.output
            let destination = output == "-" ? "standard output" : output
            printError("provenance: wrote \(destination): \(outcome.statusSummary); \(fingerprint)")
        }
    }
}

/// `capture`'s command line in the forms typed before every job, read without ArgumentParser
/// (`QuickLine` says why and how): `-q`/`--quiet`, `--canonical`, `--inline-diff`, `--no-cache`;
/// `-o V`/`--output V` (`-` too); `--root`, `--only`, `--probe`, `--no-probe`, `--repo`, `--env`,
/// `--dataset`, `--seed`, `--param`; then `--` and the job's command. `QuickCaptureLineTests`
/// holds it and ArgumentParser to the same request on a corpus of command lines.
struct QuickCaptureLine: Equatable {
    static let grammar = QuickLine.Grammar(
        flags: QuickLine.captureFlags.union(["canonical", "inline-diff"]),
        valueOptions: QuickLine.captureValueOptions.merging(["output": false]) { shared, _ in shared },
        shortNames: ["-q": "quiet", "-o": "output"],
        dashValues: ["output"])

    let line: QuickLine

    var quiet: Bool { line.flags.contains("quiet") }
    var canonical: Bool { line.flags.contains("canonical") }

    /// The line after `capture`, or nil when ArgumentParser has to read it.
    static func parse(_ arguments: [String]) -> QuickCaptureLine? {
        QuickLine.parse(arguments, grammar).map(QuickCaptureLine.init(line:))
    }

    /// The request, as `CaptureCommand.request()` makes it from the same line.
    func request() throws -> CaptureRequest {
        var request = try CaptureOptions.baseRequest()
        line.apply(to: &request, quiet: quiet)
        request.output = line.one("output") ?? "env.json"
        request.inlineDiff = line.flags.contains("inline-diff")
        return request
    }

    func run() throws {
        try CaptureCommand.run(try request(), canonical: canonical, quiet: quiet)
    }
}

extension QuickLine {
    /// The flags `capture` and `run` share that `apply` reads (`-q` is each grammar's short name).
    static let captureFlags: Set<String> = ["quiet", "no-cache"]
    /// The options `capture` and `run` share that `apply` reads; `true` for repeatable ones.
    static let captureValueOptions: [String: Bool] = [
        "root": false, "only": true, "probe": true, "no-probe": true, "repo": true, "env": true, "dataset": true,
        "seed": true, "param": true,
    ]

    /// Sets what the options `capture` and `run` share say (`CaptureOptions`, `JobOptions`, the
    /// command), as those would from the same line.
    func apply(to request: inout CaptureRequest, quiet: Bool) {
        request.root = one("root")
        request.selection = .flags(only: all("only"), also: all("probe"), without: all("no-probe"))
        request.useCache = !flags.contains("no-cache")
        request.environmentPatterns = all("env")
        request.repositories = all("repo")
        request.datasets = all("dataset")
        request.datasetProgress = CaptureOptions.datasetProgress(quiet: quiet, datasets: request.datasets)
        request.commandLine = command
        request.seeds = all("seed")
        request.parameters = all("param")
    }
}

/// What `capture` and `run` record about the job besides the machine: its seeds and parameters.
struct JobOptions: ParsableArguments {
    @Option(name: .customLong("seed"), help: ArgumentHelp("A seed of the run (repeatable).", valueName: "NAME=VALUE"))
    var seeds: [String] = []

    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter of the run (repeatable).", valueName: "KEY=VALUE"))
    var parameters: [String] = []

    func apply(to request: inout CaptureRequest, command: [String]) {
        request.commandLine = command
        request.seeds = seeds
        request.parameters = parameters
    }
}
