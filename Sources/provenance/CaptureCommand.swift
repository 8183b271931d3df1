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
        var request = try options.request(output: output)
        job.apply(to: &request, command: command)
        request.inlineDiff = inlineDiff
        request.sums = sums
        let outcome = capture(try plan(request))
        let json: JSONValue
        do {
            json = try outcome.write(canonical: canonical)
        } catch {
            throw UserError(message: error.description, code: Exit.cannotWrite)
        }
        if !options.quiet {
            let destination = output == "-" ? "standard output" : output
            printError("provenance: wrote \(destination): \(outcome.statusSummary); \(json["fingerprint"]?.stringValue ?? "")")
        }
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
