import ProvenanceCore
import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The one capture pipeline: a validated `CaptureRequest` with its machine and probes.
///
/// `capture`, `run` and `verify` all go through it, so they run the same probes (built-in and
/// site probes of the default and given directories), with the same deadlines and caches, and
/// the files a capture writes are never part of the git state it records. `run()` captures and
/// returns the manifest with its companions; `CaptureOutcome.write()` writes them.
public struct CapturePlan: Sendable {
    public let request: CaptureRequest
    public let machine: Machine
    /// Every probe available (built-in, then site probes), configured for the request.
    public let probes: [any Probe]
    /// The ids of the probes that run.
    public let enabled: Set<String>
    /// `--seed NAME=VALUE` and `--param KEY=VALUE`, validated.
    public let seeds: [String: String]
    public let parameters: [String: String]
    let perProbeTimeouts: [String: Double]
    let commandCache: CommandCache?
    /// Where sections are remembered between captures (live machines, not with `--no-cache`).
    let sectionCache: SectionCache?
    let datasets: DatasetsProbe.Configuration?

    public init(_ request: CaptureRequest) throws(CaptureRequestError) {
        self.request = request
        guard Capture.acceptsTimeout(request.timeout) else {
            throw CaptureRequestError(.usage, Capture.timeoutProblem("--timeout"))
        }
        guard request.diffMaxBytes >= 0 else {
            throw CaptureRequestError(.usage, "--diff-max-bytes must be a number of bytes, 0 or more")
        }

        // The machine.
        if let root = request.root {
            guard RootedFileSystem(root: root).isDirectory("/") else {
                throw CaptureRequestError(.noInput, "--root \(root): no such directory")
            }
            do {
                machine = try Machine.recorded(root: root, clock: request.clock)
            } catch {
                throw CaptureRequestError(.badInput, error.description)
            }
        } else {
            machine = Machine.live(clock: request.clock)
        }

        // The probes' configuration.
        var configuration = ProbeConfiguration()
        configuration.environmentPatterns = request.environmentPatterns
        configuration.commandLine = request.commandLine
        seeds = try Self.keyValues(request.seeds, option: "--seed")
        configuration.seeds = seeds
        parameters = try Self.keyValues(request.parameters, option: "--param")
        configuration.parameters = parameters
        if request.root == nil {
            configuration.pythonInterpreter = JobInterpreter.python(
                commandLine: request.commandLine, environment: request.environment,
                workingDirectory: request.workingDirectory, fs: machine.fs, resolve: machine.commands.resolve)
        }
        configuration.repositories = request.repositories
        configuration.diffMaxBytes = request.diffMaxBytes
        let caching = request.root == nil && request.useCache
        commandCache = caching ? CommandCache(environment: request.environment) : nil
        configuration.commandCache = commandCache
        configuration.excludedPaths = Self.writtenPaths(request)
        let cacheDirectory = caching ? DatasetCache.defaultDirectory(environment: request.environment) : nil
        configuration.gitCacheDirectory = cacheDirectory
        sectionCache = cacheDirectory.map(SectionCache.init)

        var available = try Self.availableProbes(configuration, probeDirectories: request.probeDirectories,
                                                 environment: request.environment)
        let known = available.map(\.descriptor.id)
        func check(_ ids: [String]) throws(CaptureRequestError) {
            for id in ids where !known.contains(id) {
                throw CaptureRequestError(.usage, "unknown probe '\(id)' (known: \(known.joined(separator: ", ")))")
            }
        }
        let defaults = Set(available.filter(\.descriptor.enabledByDefault).map(\.descriptor.id))
        var enabled: Set<String>
        var named: [String] = []
        switch request.selection {
        case .flags(let only, let also, let without):
            try check(only)
            try check(also)
            try check(without)
            named = only + also
            if !only.isEmpty {
                enabled = Set(only)
            } else {
                enabled = defaults.union(also)
            }
            enabled.subtract(without)
            if !request.datasets.isEmpty && without.contains("datasets") {
                throw CaptureRequestError(.usage, "--dataset and --no-probe datasets contradict each other")
            }
        case .sections(let ids):
            enabled = Set(known).intersection(ids)
        }

        var timeouts: [String: Double] = [:]
        for item in request.probeTimeouts {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let seconds = Double(parts[1]), Capture.acceptsTimeout(seconds) else {
                throw CaptureRequestError(.usage, "--probe-timeout takes ID=SECONDS, got '\(item)'")
            }
            try check([parts[0]])
            timeouts[parts[0]] = seconds
        }
        perProbeTimeouts = timeouts

        // Datasets: configured by --dataset; without one there is no datasets section at all.
        datasets = try Self.datasetConfiguration(request, named: named)
        if let datasets {
            available = available.map { $0.descriptor.id == "datasets" ? DatasetsProbe(datasets) : $0 }
            enabled.insert("datasets")
        } else {
            available.removeAll { $0.descriptor.id == "datasets" }
            enabled.remove("datasets")
        }
        probes = available
        self.enabled = enabled
    }

    /// The built-in probes, then the site probes of `probeDirectories` and the default
    /// directories (`ExternalProbeLoader.defaultDirectories`).
    public static func availableProbes(_ configuration: ProbeConfiguration = ProbeConfiguration(), probeDirectories: [String],
                                       environment: [String: String]) throws(CaptureRequestError) -> [any Probe]
    {
        let builtin = BuiltinProbes.all(configuration)
        do {
            return builtin + (try ExternalProbeLoader.load(
                directories: probeDirectories + ExternalProbeLoader.defaultDirectories(environment: environment),
                reservedIDs: Set(builtin.map(\.descriptor.id)), environment: environment))
        } catch {
            throw CaptureRequestError(.badInput, error.description)
        }
    }

    /// The capture of the chosen probes with their deadlines (what `run()` runs; `record` runs it
    /// on a recording machine).
    public var capture: Capture {
        var capture = Capture(probes: probes, enabled: enabled, timeout: request.timeout,
                              probeTimeouts: perProbeTimeouts, toolVersion: ProvenanceVersion.current)
        capture.grace = min(0.5, request.timeout / 2)
        capture.rendersData = true
        capture.sectionCache = sectionCache
        return capture
    }

    /// Captures: runs the probes, saves the caches once, and gathers the companion files the
    /// manifest refers to (patches, dataset sidecars) and the `--sums` listing.
    public func run() -> CaptureOutcome {
        var (manifest, artifacts) = capture.runCollectingArtifacts(on: machine)
        commandCache?.save()
        let determinism = Self.addDeterminismAdvice(to: &manifest, environment: machine.environment)

        let location = companionLocation(of: request.output)
        func inDirectory(_ name: String) -> String { (location.directory == "/" ? "" : location.directory) + "/" + name }
        var companions: [Companion] = []

        // Patches: inline (asked for, or the manifest goes to a stream), else files beside it.
        let patches = artifacts["git"] ?? [:]
        let digests = GitProbe.patchDigests(in: manifest.sections["git"])
        let inline = request.inlineDiff || Self.isStreamOutput(request.output)
        for digest in digests {
            guard let bytes = patches[digest] else { continue }
            let size = Int64(bytes.count)
            if inline {
                manifest.attachments[digest] = Attachment(mediaType: "text/x-diff", sizeBytes: size, location: .inline(bytes))
            } else {
                let name = Self.patchFileName(stem: location.stem, digest: digest)
                manifest.attachments[digest] = Attachment(mediaType: "text/x-diff", sizeBytes: size, location: .file(name))
                companions.append(Companion(path: inDirectory(name), bytes: bytes, kind: .patch))
            }
        }

        // Dataset listings: sidecars beside the manifest, and the --sums listing.
        var sums: [UInt8]?
        if let datasets, let section = manifest.sections["datasets"], section.status == .ok || section.status == .partial {
            let attached = artifacts["datasets"] ?? [:]
            for spec in datasets.datasets {
                if let listing = attached[DatasetsProbe.sidecarArtifact(spec.name)] {
                    let name = DatasetsProbe.sidecarName(stem: location.stem, dataset: spec.name)
                    companions.append(Companion(path: inDirectory(name), bytes: listing, kind: .datasetListing))
                }
            }
            if request.sums != nil {
                sums = datasets.datasets.reduce(into: []) { $0 += attached[DatasetsProbe.sumsArtifact($1.name)] ?? [] }
            }
        }
        return CaptureOutcome(manifest: manifest, output: request.output, companions: companions, sums: sums,
                              sumsPath: request.sums, determinism: determinism)
    }

    /// The determinism settings the job's frameworks (the python section) ask for and the
    /// environment lacks, added to the run section of a job (one with a command line).
    static func addDeterminismAdvice(to manifest: inout Manifest, environment: [String: String])
        -> [DeterminismChecklist.Advice]
    {
        guard let section = manifest.sections["run"], section.status == .ok,
              var run = RunSection.decode(section.data), run.commandLine != nil,
              let python = PythonSection.decode(manifest.sections["python"]?.data)
        else { return [] }
        let installed = Set(python.distributions.map { normalizeDistributionName($0.name) })
        let advice = DeterminismChecklist.advice(distributions: installed, environment: environment)
        guard !advice.isEmpty, let data = try? JSONValueEncoder().encode({ run.determinism = advice; return run }()) else {
            return advice
        }
        manifest.sections["run"]?.data = data
        return advice
    }

    /// `--seed`/`--param` `KEY=VALUE` items as a dictionary.
    static func keyValues(_ items: [String], option: String) throws(CaptureRequestError) -> [String: String] {
        var result: [String: String] = [:]
        for item in items {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw CaptureRequestError(.usage, "\(option) takes KEY=VALUE, got '\(item)'")
            }
            result[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        return result
    }

    /// The datasets probe's configuration; nil without `--dataset`.
    static func datasetConfiguration(_ request: CaptureRequest, named: [String])
        throws(CaptureRequestError) -> DatasetsProbe.Configuration?
    {
        guard !request.datasets.isEmpty else {
            if named.contains("datasets") {
                throw CaptureRequestError(.usage, "the datasets probe needs --dataset NAME=PATH")
            }
            if request.sums != nil { throw CaptureRequestError(.usage, "--sums needs --dataset NAME=PATH") }
            return nil
        }
        if let root = request.root {
            throw CaptureRequestError(
                .usage, "--dataset cannot be combined with --root \(root): datasets are live paths, and a recorded machine has none")
        }
        guard request.datasetListLimit >= 0 else {
            throw CaptureRequestError(.usage, "--dataset-list-limit must be a number of files (0 or more)")
        }
        if let threads = request.datasetThreads, threads < 1 || threads > 1024 {
            throw CaptureRequestError(.usage, "--dataset-threads must be between 1 and 1024")
        }
        if request.sums == "-" && request.output == "-" {
            throw CaptureRequestError(.usage, "--sums - and -o - cannot both use standard output")
        }
        var specs: [DatasetSpec] = []
        for argument in request.datasets {
            let spec: DatasetSpec
            do {
                spec = try DatasetSpec.parse(argument, workingDirectory: request.workingDirectory)
            } catch {
                throw CaptureRequestError(.usage, error.description)
            }
            if specs.contains(where: { $0.name == spec.name }) {
                throw CaptureRequestError(.usage, "dataset name '\(spec.name)' is given twice")
            }
            if let problem = DatasetSpec.problem(ofPath: spec.path) {
                throw CaptureRequestError(.noInput, "--dataset \(argument): \(problem)")
            }
            specs.append(spec)
        }
        var configuration = DatasetsProbe.Configuration()
        configuration.datasets = specs
        configuration.cacheDirectory = request.useCache ? DatasetCache.defaultDirectory(environment: request.environment) : nil
        configuration.listLimit = request.datasetListLimit
        configuration.listFiles = request.datasetListFiles
        if let threads = request.datasetThreads { configuration.threads = threads }
        configuration.sidecarStem = companionLocation(of: request.output).stem
        configuration.sums = request.sums != nil
        configuration.progress = request.datasetProgress
        return configuration
    }

    /// What the capture writes, as absolute paths: the manifest, the patches and dataset
    /// sidecars of earlier captures beside it (`STEM.diff.*.patch`, `STEM.datasets.*.sha256`, when
    /// that directory may be in a repository; this capture's own are written after the probes
    /// ran), the sums file and the command's other paths (a run directory: everything under it).
    static func writtenPaths(_ request: CaptureRequest) -> [String] {
        func absolute(_ path: String) -> String { DatasetSpec.absolutePath(path, workingDirectory: request.workingDirectory) }
        var paths: [String] = []
        if !isStreamOutput(request.output) {
            let output = normalizePath(absolute(request.output))
            paths.append(output)
            let location = companionLocation(of: output)
            let stem = location.stem
            // Only a directory in a repository is listed: the paths are excluded from the git
            // state, and listing costs what the directory holds (this machine's /tmp, 15,000
            // entries: 23 ms of CPU).
            let listed = GitProbe.mayBeInRepository(location.directory, fs: RootedFileSystem())
            for name in listed ? ((try? RootedFileSystem().list(location.directory)) ?? nil) ?? [] : []
            where isPatchFileName(name, stem: stem) || (name.hasPrefix(stem + ".datasets.") && name.hasSuffix(".sha256")) {
                paths.append((location.directory == "/" ? "" : location.directory) + "/" + name)
            }
        }
        if let sums = request.sums, sums != "-" { paths.append(normalizePath(absolute(sums))) }
        paths += request.alsoWrites.map { normalizePath(absolute($0)) }
        return paths
    }

    /// The file name of a patch beside manifest `STEM.json`: `STEM.diff.HEX12.patch`, the first 12
    /// hex digits of its digest. A name that carries the digest is never rewritten with other
    /// bytes, so a manifest always refers to the patch it was captured with, whatever moment a
    /// writer is killed at or however many captures write to one place.
    public static func patchFileName(stem: String, digest: String) -> String {
        let hex = digest.hasPrefix("sha256:") ? digest.dropFirst(7) : Substring(digest)
        return "\(stem).diff.\(hex.prefix(12)).patch"
    }

    /// Whether `name` is a patch written beside manifest `STEM.json` (by this version,
    /// `STEM.diff.HEX12.patch`, or earlier ones, `STEM.diff.patch` and `STEM.diff.N.patch`).
    public static func isPatchFileName(_ name: String, stem: String) -> Bool {
        guard name.hasPrefix(stem + ".diff."), name.hasSuffix(".patch") else { return false }
        let middle = name.dropFirst(stem.count + 6).dropLast(6)
        return middle.isEmpty || middle.allSatisfy { $0.isHexDigit }
    }

    /// Whether the manifest goes to a stream rather than a file: standard output (`-`), or an
    /// existing device, FIFO or socket (`-o /dev/null`), which has no directory for companions.
    static func isStreamOutput(_ output: String) -> Bool {
        if output == "-" { return true }
        var info = stat()
        guard stat(output, &info) == 0 else { return false }
        let type = info.st_mode & S_IFMT
        return type != S_IFREG && type != S_IFDIR
    }
}

/// Where the files that go with a manifest are written: the manifest's directory and its file
/// name without `.json` (`run/env.json` → `run`, `env`); for standard output (`-`), the working
/// directory and `env`.
public func companionLocation(of output: String) -> (directory: String, stem: String) {
    guard output != "-" else { return (".", "env") }
    let slash = output.lastIndex(of: "/")
    let directory = slash.map { $0 == output.startIndex ? "/" : String(output[..<$0]) } ?? "."
    var stem = slash.map { String(output[output.index(after: $0)...]) } ?? output
    if stem.hasSuffix(".json") && stem.count > 5 { stem.removeLast(5) }
    return (directory, stem)
}
