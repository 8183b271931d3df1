import ArgumentParser
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check this machine (or another manifest) against a recorded manifest under a policy.",
        discussion: """
            Captures this machine now with the probes the recorded manifest used (or reads \
            --against) and reports each violation with the recorded value, the current value and \
            the rule that failed. Policies: strict, default, lenient, or a JSON/YAML policy file \
            (see `provenance policies default`). Exit status: 0 the environment holds (warnings \
            allowed), 2 violations, 65 an input is not a readable manifest or policy, 66 an input \
            does not exist.
            """)

    @Argument(help: "The recorded manifest.") var manifest: String
    @Option(help: "strict, default, lenient, or a policy file.") var policy = "default"
    @Option(help: ArgumentHelp("Compare with this manifest instead of capturing now.", valueName: "FILE"))
    var against: String?
    @Option(help: ArgumentHelp("Capture a recorded machine instead of this one.", valueName: "DIR"))
    var root: String?
    @Option(help: "Timeout of each command and default deadline of each probe, in seconds.") var timeout: Double = 5
    @Option(help: "text, json or markdown.") var format: ReportFormat = .text
    @Flag(name: .customLong("no-cache"),
          help: "Use no cache: read every dataset file again, run every version command, load pci.ids.")
    var noCache = false

    func run() throws {
        let chosenPolicy = try loadPolicy(policy)
        let recorded = try readManifest(manifest)
        let current: JSONValue
        if let against {
            current = try readManifest(against)
        } else {
            current = try captureNow(like: recorded)
        }
        let diff = ManifestDiff(old: recorded, new: current)
        let violations = chosenPolicy.violations(in: diff)
        switch format {
        case .text:
            let text = DiffReport.text(violations, policy: chosenPolicy, compared: diff.changes.count - violations.count,
                                       color: useColor())
            writeStandardOutput(Array(text.utf8))
        case .json:
            writeStandardOutput(CanonicalJSON.pretty(DiffReport.json(violations, policy: chosenPolicy)))
        case .markdown:
            writeStandardOutput(Array(DiffReport.markdown(violations, policy: chosenPolicy).utf8))
        }
        if violations.contains(where: { $0.severity == .error }) { throw ExitCode(Exit.differences) }
    }

    /// Captures with the probes that produced the recorded sections (not skipped there).
    private func captureNow(like recorded: JSONValue) throws -> JSONValue {
        guard timeout > 0, timeout.isFinite else {
            throw UserError(message: "--timeout must be a positive number of seconds", code: Exit.usage)
        }
        let sections = recorded["sections"]?.objectValue ?? [:]
        // The run section describes the recorded job, not the machine: it stays as recorded.
        let wanted = Set(sections.filter { $0.value["status"] != "skipped" }.keys).subtracting(["run"])
        var configuration = ProbeConfiguration()
        // The repositories the manifest recorded, wherever verify runs from.
        configuration.repositories = GitProbe.repositoryPaths(in: sections["git"])
        // The same environment allow-list as the recorded capture.
        configuration.environmentPatterns = EnvironmentSection.decode(sections["environment"]?["data"])?.extraPatterns ?? []
        // The caches capture uses (tool versions, PCI names), keyed by the files' identities.
        if root == nil && !noCache { configuration.commandCache = CommandCache(environment: processEnvironment()) }
        let probes = BuiltinProbes.all(configuration).compactMap { probe -> (any Probe)? in
            guard probe.descriptor.id == "datasets" else { return probe }
            // Datasets are hashed again at their recorded paths (live only: under --root the
            // recorded section is kept as it is, so it is not compared).
            return root == nil ? datasetsProbe(like: sections["datasets"]) : nil
        }
        let machine: Machine
        if let root {
            guard RootedFileSystem(root: root).isDirectory("/") else {
                throw UserError(message: "--root \(root): no such directory", code: Exit.noInput)
            }
            do {
                machine = try Machine.recorded(root: root)
            } catch {
                throw UserError(message: error.description, code: Exit.badInput)
            }
        } else {
            machine = Machine.live()
        }
        let enabled = Set(probes.map(\.descriptor.id)).intersection(wanted)
        let manifest = Capture(probes: probes, enabled: enabled, timeout: timeout, toolVersion: ProvenanceVersion.current)
            .run(on: machine)
        var json = manifest.json
        // Sections this build cannot capture stay as recorded: they are not compared.
        if case .object(var object) = json, case .object(var captured)? = object["sections"] {
            for (id, section) in sections where captured[id] == nil { captured[id] = section }
            object["sections"] = .object(captured)
            json = .object(object)
        }
        return json
    }

    /// The datasets probe set up to hash the recorded datasets again, listing files where the
    /// recorded manifest did; nil when the recorded manifest has no datasets.
    private func datasetsProbe(like section: JSONValue?) -> DatasetsProbe? {
        guard let section, section["status"] != "skipped",
              let records = DatasetsSection.decode(section["data"])?.datasets, !records.isEmpty
        else { return nil }
        var configuration = DatasetsProbe.Configuration()
        configuration.datasets = records.keys.sorted().map { DatasetSpec(name: $0, path: records[$0]!.path) }
        configuration.listFiles = records.mapValues { $0.files != nil }
        configuration.cacheDirectory = noCache ? nil : DatasetCache.defaultDirectory(environment: processEnvironment())
        return DatasetsProbe(configuration)
    }
}
