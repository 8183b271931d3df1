import ArgumentParser
import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ProvenanceProbeKit
import ProvenanceProbes

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
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
            `git apply --binary env.diff.patch`. What the capture writes (the manifest, its patches \
            and sidecars, the --sums file) is never part of the git state it records.
            """)

    @Option(name: [.short, .customLong("output")], help: "Where to write the manifest ('-' for standard output).")
    var output = "env.json"

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

    @Option(name: .customLong("repo"),
            help: ArgumentHelp("Record this git repository (repeatable; default: the working directory's).",
                               valueName: "PATH"))
    var repositories: [String] = []

    @Flag(help: "Put the git patch inside the manifest instead of a file beside it.")
    var inlineDiff = false

    @Option(help: ArgumentHelp("Largest git patch kept, in bytes (4 MiB): untracked files are left out first (listed with size and sha256, as untracked files over 1 MiB always are); when the tracked changes alone pass it, only the changed files and their blob ids.",
                               valueName: "BYTES"))
    var diffMaxBytes = GitProbe.defaultDiffMaxBytes

    @Option(name: .customLong("dataset"),
            help: ArgumentHelp("Hash a file or directory into the datasets section (repeatable).",
                               valueName: "NAME=PATH"))
    var datasets: [String] = []

    @Option(help: ArgumentHelp("Also write every dataset file's digest to FILE in `sha256sum -c` format (absolute paths).",
                               valueName: "FILE"))
    var sums: String?

    @Option(name: .customLong("dataset-list-limit"),
            help: ArgumentHelp("A dataset with more files lists them in a sidecar file beside the manifest (NAME.datasets.DATASET.sha256).",
                               valueName: "FILES"))
    var datasetListLimit = 100_000

    @Option(name: .customLong("dataset-threads"),
            help: ArgumentHelp("Threads hashing dataset files (default: the CPUs this process may use).", valueName: "N"))
    var datasetThreads: Int?

    @Flag(help: "Write the compact canonical form (RFC 8785) instead of the indented one.")
    var canonical = false

    @Flag(name: .shortAndLong, help: "Do not print the summary line on standard error.")
    var quiet = false

    @OptionGroup var job: JobOptions

    @Flag(name: .customLong("no-cache"),
          help: "Use no cache: read every dataset file again and run every version command again.")
    var noCache = false

    @Option(name: .customLong("probes-dir"),
            help: ArgumentHelp("Also load site probes (executables, JSON/YAML definitions) from DIR (repeatable).",
                               valueName: "DIR"))
    var probeDirectories: [String] = []

    @Argument(parsing: .postTerminator,
              help: ArgumentHelp("The job's command line, after '--' (recorded with secrets masked).", valueName: "COMMAND"))
    var command: [String] = []

    func run() throws {
        guard diffMaxBytes >= 0 else {
            throw UserError(message: "--diff-max-bytes must be a number of bytes, 0 or more", code: Exit.usage)
        }
        let attachments = AttachmentStore()
        var configuration = ProbeConfiguration()
        try job.configure(&configuration, command: command)
        configuration.repositories = repositories
        configuration.diffMaxBytes = diffMaxBytes
        configuration.attachments = attachments
        configuration.excludedPaths = isStreamOutput(output) ? [] : companionPaths(of: output)
        if let sums, sums != "-" { configuration.excludedPaths.append(sums) }
        if root == nil && !noCache { configuration.commandCache = CommandCache(environment: processEnvironment()) }
        let available = try allProbes(configuration, extraDirectories: probeDirectories)
        let known = available.map(\.descriptor.id)
        func check(_ ids: [String]) throws {
            for id in ids where !known.contains(id) {
                throw UserError(message: "unknown probe '\(id)' (known: \(known.joined(separator: ", ")))", code: Exit.usage)
            }
        }
        try check(probes)
        try check(onlyProbes)
        try check(disabledProbes)
        guard timeout > 0, timeout.isFinite else {
            throw UserError(message: "--timeout must be a positive number of seconds", code: Exit.usage)
        }
        var perProbe: [String: Double] = [:]
        for item in probeTimeouts {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let seconds = Double(parts[1]), seconds > 0, seconds.isFinite else {
                throw UserError(message: "--probe-timeout takes ID=SECONDS, got '\(item)'", code: Exit.usage)
            }
            try check([parts[0]])
            perProbe[parts[0]] = seconds
        }

        var enabled: Set<String>?
        if !onlyProbes.isEmpty {
            enabled = Set(onlyProbes)
        } else if !probes.isEmpty || !disabledProbes.isEmpty {
            enabled = Set(available.filter(\.descriptor.enabledByDefault).map(\.descriptor.id)).union(probes)
        }
        if !disabledProbes.isEmpty { enabled?.subtract(disabledProbes) }

        let datasetOptions = try datasetConfiguration()
        var selected = available
        if let datasetOptions {
            selected = available.map { $0.descriptor.id == DatasetsProbe().descriptor.id ? DatasetsProbe(datasetOptions) : $0 }
            // --dataset turns the datasets section on, whatever else was chosen.
            enabled = (enabled ?? Set(available.filter(\.descriptor.enabledByDefault).map(\.descriptor.id)))
                .union(["datasets"])
        } else {
            // No --dataset: no datasets section at all (not even a skipped one).
            selected.removeAll { $0.descriptor.id == "datasets" }
        }

        let clock = try clockFromEnvironment()
        let machine: Machine
        if let root {
            guard RootedFileSystem(root: root).isDirectory("/") else {
                throw UserError(message: "--root \(root): no such directory", code: Exit.noInput)
            }
            do {
                machine = try Machine.recorded(root: root, clock: clock)
            } catch {
                throw UserError(message: error.description, code: Exit.badInput)
            }
        } else {
            machine = Machine.live(clock: clock)
        }

        var capture = Capture(probes: selected, enabled: enabled, timeout: timeout, probeTimeouts: perProbe,
                              toolVersion: ProvenanceVersion.current)
        capture.grace = min(0.5, timeout / 2)
        let printer = datasetOptions.flatMap { options in
            options.progress.map { DatasetProgressPrinter(progress: $0) }
        }
        printer?.start()
        var manifest = capture.run(on: machine)
        printer?.stop()
        if let datasetOptions { try writeDatasetFiles(datasetOptions, manifest: manifest) }
        // Patches and manifest are written together (all temporaries first, then renamed, the
        // manifest last): a manifest never refers to a patch that is not there, and a failed
        // write leaves the previous manifest and its patches as they were.
        let patchFiles = attachPatches(to: &manifest, from: attachments, output: output, inline: inlineDiff)
        // The fingerprint is computed once, with the JSON (it serialises every section).
        let json = manifest.json
        let bytes = canonical ? CanonicalJSON.serialize(json) + [0x0A] : CanonicalJSON.pretty(json)

        try writeOutput(bytes, to: output, with: patchFiles)
        if !quiet {
            var counts: [SectionStatus: Int] = [:]
            for section in manifest.sections.values { counts[section.status, default: 0] += 1 }
            let summary = SectionStatus.allCases.compactMap { status in counts[status].map { "\($0) \(status.rawValue)" } }
            let destination = output == "-" ? "standard output" : output
            printError("provenance: wrote \(destination): \(summary.joined(separator: ", ")); \(json["fingerprint"]?.stringValue ?? "")")
        }
    }

    /// The datasets probe's configuration from `--dataset`, `--sums`, `--no-cache`, … ; nil without `--dataset`.
    private func datasetConfiguration() throws -> DatasetsProbe.Configuration? {
        let probeFlags = probes + onlyProbes
        guard !datasets.isEmpty else {
            if probeFlags.contains("datasets") {
                throw UserError(message: "the datasets probe needs --dataset NAME=PATH", code: Exit.usage)
            }
            if sums != nil { throw UserError(message: "--sums needs --dataset NAME=PATH", code: Exit.usage) }
            return nil
        }
        if disabledProbes.contains("datasets") {
            throw UserError(message: "--dataset and --no-probe datasets contradict each other", code: Exit.usage)
        }
        if let root {
            throw UserError(
                message: "--dataset cannot be combined with --root \(root): datasets are live paths, and a recorded machine has none",
                code: Exit.usage)
        }
        guard datasetListLimit >= 0 else {
            throw UserError(message: "--dataset-list-limit must be a number of files (0 or more)", code: Exit.usage)
        }
        if let datasetThreads, datasetThreads < 1 || datasetThreads > 1024 {
            throw UserError(message: "--dataset-threads must be between 1 and 1024", code: Exit.usage)
        }
        if sums == "-" && output == "-" {
            throw UserError(message: "--sums - and -o - cannot both use standard output", code: Exit.usage)
        }
        let workingDirectory = currentDirectory()
        var specs: [DatasetSpec] = []
        for argument in datasets {
            let spec: DatasetSpec
            do {
                spec = try DatasetSpec.parse(argument, workingDirectory: workingDirectory)
            } catch {
                throw UserError(message: error.description, code: Exit.usage)
            }
            if specs.contains(where: { $0.name == spec.name }) {
                throw UserError(message: "dataset name '\(spec.name)' is given twice", code: Exit.usage)
            }
            if let problem = DatasetSpec.problem(ofPath: spec.path) {
                throw UserError(message: "--dataset \(argument): \(problem)", code: Exit.noInput)
            }
            specs.append(spec)
        }
        var configuration = DatasetsProbe.Configuration()
        configuration.datasets = specs
        configuration.cacheDirectory = noCache ? nil : DatasetCache.defaultDirectory(environment: processEnvironment())
        configuration.listLimit = datasetListLimit
        if let datasetThreads { configuration.threads = datasetThreads }
        configuration.sidecarStem = sidecarLocation.stem
        configuration.results = DatasetResults()
        if !quiet && isatty(2) != 0 { configuration.progress = DatasetProgress() }
        return configuration
    }

    /// Where sidecars go (`companionLocation`).
    private var sidecarLocation: (directory: String, stem: String) { companionLocation(of: output) }

    /// Writes the sidecar listings of large datasets and the `--sums` file, before the manifest
    /// that refers to them.
    private func writeDatasetFiles(_ configuration: DatasetsProbe.Configuration, manifest: Manifest) throws {
        guard let section = manifest.sections["datasets"], section.status == .ok || section.status == .partial,
              let results = configuration.results?.all
        else { return }
        let location = sidecarLocation
        for (name, result) in results where !(configuration.listFiles[name] ?? (result.files.count <= configuration.listLimit)) {
            let path = (location.directory == "/" ? "" : location.directory) + "/"
                + DatasetsProbe.sidecarName(stem: location.stem, dataset: name)
            let listing = result.listing
            // An unchanged dataset's sidecar is already there: reading it costs less than an fsync.
            var existing = RootedFileSystem()
            existing.maxFileBytes = listing.count
            if (try? existing.readBytes(path)) == listing { continue }
            do {
                try AtomicFile.write(listing, to: path)
            } catch {
                throw UserError(message: error.description, code: Exit.cannotWrite)
            }
        }
        guard let sums else { return }
        var listing: [UInt8] = []
        for (_, result) in results {
            listing += DatasetListing.listing(result.files, prefix: Array(DatasetsProbe.sumsPrefix(of: result).utf8))
        }
        if sums == "-" {
            writeStandardOutput(listing)
            return
        }
        do {
            try AtomicFile.write(listing, to: sums)
        } catch {
            throw UserError(message: error.description, code: Exit.cannotWrite)
        }
    }

    /// A fixed clock when `SOURCE_DATE_EPOCH` is set (reproducible captures), else the system clock.
    private func clockFromEnvironment() throws -> any WallClock {
        guard let value = processEnvironment()["SOURCE_DATE_EPOCH"] else { return SystemClock() }
        guard let seconds = Int64(value) else {
            throw UserError(message: "SOURCE_DATE_EPOCH must be an integer, got '\(value)'", code: Exit.usage)
        }
        return FixedClock(secondsSinceEpoch: seconds)
    }
}

/// The built-in probes plus the site's probes of `--probes-dir` and the default directories.
func allProbes(_ configuration: ProbeConfiguration, extraDirectories: [String]) throws -> [any Probe] {
    let builtin = BuiltinProbes.all(configuration)
    let environment = processEnvironment()
    do {
        let external = try ExternalProbeLoader.load(
            directories: extraDirectories + ExternalProbeLoader.defaultDirectories(environment: environment),
            reservedIDs: Set(builtin.map(\.descriptor.id)), environment: environment)
        return builtin + external
    } catch {
        throw UserError(message: error.description, code: Exit.badInput)
    }
}
