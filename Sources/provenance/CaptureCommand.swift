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
        let json: JSONValue
        do {
            json = try outcome.write(canonical: canonical)
        } catch {
            throw UserError(message: error.description, code: Exit.cannotWrite)
        }
        if !quiet {
            let output = request.output
            let destination = output == "-" ? "standard output" : output
            printError("provenance: wrote \(destination): \(outcome.statusSummary); \(json["fingerprint"]?.stringValue ?? "")")
        }
    }
}

/// `capture`'s command line in the forms typed before every job, read without ArgumentParser.
///
/// Parsing through ArgumentParser was 3.3–3.7 ms of every capture (a tenth of one outside a
/// repository on 2 cores), 39% of it the Swift runtime scanning the binary's 5,409 protocol
/// conformances for the option wrappers' types. This reads only: `-q`/`--quiet`, `--canonical`,
/// `--inline-diff`, `--no-cache`; `-o V`/`--output V`; `--root`, `--only`, `--probe`, `--no-probe`,
/// `--repo`, `--env`, `--dataset`, `--seed`, `--param` as `--name V` or `--name=V`; then `--` and
/// the job's command. A single-valued option or flag at most once; a value not empty and not
/// starting with `-` (but `-o -`). Anything else (help, `--version`, any other option, a
/// misspelt or grouped one) gives nil, and ArgumentParser reads the line as before, errors and
/// all. `QuickCaptureLineTests` holds both to the same request on a corpus of command lines.
struct QuickCaptureLine: Equatable {
    var output = "env.json"
    var quiet = false
    var canonical = false
    var inlineDiff = false
    var noCache = false
    var root: String?
    var repeated: [String: [String]] = [:]
    var command: [String] = []

    /// The options that take a value, by long name; `true` for those that may be repeated.
    static let valueOptions: [String: Bool] = [
        "output": false, "root": false, "only": true, "probe": true, "no-probe": true, "repo": true, "env": true,
        "dataset": true, "seed": true, "param": true,
    ]
    static let flags: Set<String> = ["quiet", "canonical", "inline-diff", "no-cache"]

    /// The line after `capture`, or nil when ArgumentParser has to read it.
    static func parse(_ arguments: [String]) -> QuickCaptureLine? {
        var line = QuickCaptureLine()
        var seen: Set<String> = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                line.command = Array(arguments[index...])
                return line
            }
            var name: String
            var value: String?
            if argument == "-q" {
                name = "quiet"
            } else if argument == "-o" {
                name = "output"
            } else if argument.hasPrefix("--"), argument.count > 2 {
                name = String(argument.dropFirst(2))
                if let equals = name.firstIndex(of: "=") {
                    value = String(name[name.index(after: equals)...])
                    name = String(name[..<equals])
                }
            } else {
                return nil
            }
            if flags.contains(name) {
                guard value == nil, seen.insert(name).inserted else { return nil }
                switch name {
                case "quiet": line.quiet = true
                case "canonical": line.canonical = true
                case "inline-diff": line.inlineDiff = true
                default: line.noCache = true
                }
                continue
            }
            guard let repeatable = valueOptions[name], repeatable || seen.insert(name).inserted else { return nil }
            if value == nil {
                guard index < arguments.count else { return nil }
                value = arguments[index]
                index += 1
            }
            guard let value, !value.isEmpty, !value.hasPrefix("-") || (name == "output" && value == "-") else { return nil }
            switch name {
            case "output": line.output = value
            case "root": line.root = value
            default: line.repeated[name, default: []].append(value)
            }
        }
        return line
    }

    /// The request, as `CaptureCommand.request()` makes it from the same line.
    func request() throws -> CaptureRequest {
        var request = try CaptureOptions.baseRequest()
        request.root = root
        request.selection = .flags(only: repeated["only"] ?? [], also: repeated["probe"] ?? [],
                                   without: repeated["no-probe"] ?? [])
        request.useCache = !noCache
        request.environmentPatterns = repeated["env"] ?? []
        request.repositories = repeated["repo"] ?? []
        request.datasets = repeated["dataset"] ?? []
        request.datasetProgress = CaptureOptions.datasetProgress(quiet: quiet, datasets: request.datasets)
        request.output = output
        request.commandLine = command
        request.seeds = repeated["seed"] ?? []
        request.parameters = repeated["param"] ?? []
        request.inlineDiff = inlineDiff
        return request
    }

    func run() throws {
        try CaptureCommand.run(try request(), canonical: canonical, quiet: quiet)
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
