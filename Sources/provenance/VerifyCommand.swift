import ArgumentParser
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes
import ProvenanceTrace

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check this machine (or another manifest) against a recorded manifest under a policy.",
        discussion: """
            Captures this machine now, through the same pipeline as `capture`, with the probes \
            that produced the recorded sections (built-in and site probes), the recorded git \
            repositories (or --repo) and datasets (re-hashed at their recorded paths), or reads \
            --against, and reports each violation with the recorded value, the current value and \
            the rule that failed. Policies: strict, default, lenient, or a JSON/YAML policy file \
            (see `provenance policies default`). Exit status: 0 the environment holds (warnings \
            allowed), 2 violations, 64 usage, 65 an input is not a readable manifest or policy, \
            66 an input does not exist.
            """)

    @Argument(help: "The recorded manifest.") var manifest: String
    @Option(help: "strict, default, lenient, or a policy file.") var policy = "default"
    @Option(help: ArgumentHelp("Compare with this manifest instead of capturing now.", valueName: "FILE"))
    var against: String?
    @Option(help: "text, json or markdown.") var format: ReportFormat = .text
    @OptionGroup var options: CaptureOptions

    func run() throws {
        let chosenPolicy = try loadPolicy(policy)
        var recorded = try readManifest(manifest)
        let current: JSONValue
        var currentPatches: [String: [UInt8]] = [:]
        if let against {
            current = try readManifest(against)
        } else {
            // The environment is compared on the verifier's allow-list (its --env), never the
            // manifest's: a hostile manifest must not make verify record and print our secrets.
            recorded = EnvironmentProbe.restrictingRecorded(recorded, to: EnvironmentProbe.allowList(
                extraPatterns: options.environmentPatterns, environment: processEnvironment()))
            (current, currentPatches) = try captureNow(like: recorded)
        }
        // The same repositories by identity (remote, commit), wherever they are checked out.
        let diff = ManifestDiff(old: recorded, new: Reproduction.aligningRepositories(current, with: recorded))
        var violations = Reproduction.withoutRedundantDigests(chosenPolicy.violations(in: diff)).map { violation in
            var violation = violation
            violation.fix = Reproduction.fix(for: violation.change, recorded: recorded)
            // Two patches: which files they change differently, rather than two digests.
            if violation.change.path.hasSuffix("].diff.sha256"), let old = violation.change.old?.stringValue,
               let new = violation.change.new?.stringValue, let recordedPatch = recordedAttachment(old, in: recorded),
               let currentPatch = currentPatches[new]
            {
                let files = Reproduction.patchDifferences(recorded: recordedPatch, current: currentPatch)
                let text = files.map { "\($0.file) (\($0.change == "added" ? "changed only now" : $0.change == "removed" ? "changed only when recorded" : "changed differently"))" }
                if !text.isEmpty { violation.reason += "; the patches differ in " + text.joined(separator: ", ") }
            }
            return violation
        }
        if against == nil { violations += traceInputViolations() }
        switch format {
        case .text:
            let text = DiffReport.text(violations, policy: chosenPolicy, compared: diff.changes.count - violations.count,
                                       color: useColor())
            writeStandardOutput(text)
        case .json:
            writeStandardOutput(CanonicalJSON.pretty(DiffReport.json(violations, policy: chosenPolicy)))
        case .markdown:
            writeStandardOutput(DiffReport.markdown(violations, policy: chosenPolicy))
        }
        if violations.contains(where: { $0.severity == .error }) { throw ExitCode(Exit.differences) }
    }

    /// Captures with the probes that produced the recorded sections (not skipped there); sections
    /// this machine has no probe for stay as recorded, so they are not compared.
    /// A traced run's inputs (run.json beside the manifest, `run --trace`) digested again: each
    /// file the job read that is missing or differs now is an error (the job would read another
    /// file), whatever the policy.
    private func traceInputViolations() -> [Violation] {
        let directory = companionLocation(of: absolutePath(manifest)).directory
        guard let bytes = (try? RootedFileSystem().readBytes(directory + "/run.json")) ?? nil,
              let trace = (try? JSONParser.parse(bytes))?["trace"], trace["inputs"] != nil
        else { return [] }
        return TraceCheck.inputs(of: trace).findings.map { finding in
            let path = String(decoding: finding.path, as: UTF8.self)
            let change = ManifestDiff.Change(section: "trace", path: "trace.inputs[\(path)].sha256",
                                             kind: finding.kind == .changed ? .changed : .removed,
                                             old: finding.recorded.map { .string($0) }, new: finding.now.map { .string($0) })
            let reason = finding.kind == .changed ? "the job read this file; it differs now"
                : finding.kind == .missing ? "the job read this file; it is missing now" : "the job read this file; it cannot be read now"
            return Violation(change: change, rule: .equal, pattern: "trace.inputs (run.json)", severity: .error, reason: reason,
                             fix: "restore \(path) (recorded \(finding.recorded ?? "?"))")
        }
    }

    /// The bytes of a recorded attachment: the file beside the manifest, or inline.
    private func recordedAttachment(_ digest: String, in recorded: JSONValue) -> [UInt8]? {
        guard let attachment = recorded["attachments"]?[digest] else { return nil }
        if let file = attachment["file"]?.stringValue, !file.contains("/") {
            let directory = companionLocation(of: absolutePath(manifest)).directory
            return (try? RootedFileSystem().readBytes(directory + "/" + file)) ?? nil
        }
        guard let content = attachment["content"]?.stringValue else { return nil }
        return attachment["encoding"] == "base64" ? Base64.decode(content) : Array(content.utf8)
    }

    private func captureNow(like recorded: JSONValue) throws -> (JSONValue, [String: [UInt8]]) {
        let sections = recorded["sections"]?.objectValue ?? [:]
        // The run section describes the recorded job, not the machine: it stays as recorded.
        var wanted = Set(sections.filter { $0.value["status"] != "skipped" }.keys).subtracting(["run"])
        if !options.probes.isEmpty {
            throw UserError(message: "verify captures the sections the manifest recorded; --probe adds none", code: Exit.usage)
        }
        if !options.onlyProbes.isEmpty { wanted.formIntersection(options.onlyProbes) }
        wanted.subtract(options.disabledProbes)

        // The manifest's own file and companions are not part of the git state, as at capture.
        var request = try options.request(output: manifest)
        request.selection = .sections(wanted)
        request.alsoWrites = ["runs"]
        // A run directory (run.json beside the manifest) was written by `run` whole.
        let directory = companionLocation(of: manifest).directory
        if RootedFileSystem().exists(absolutePath(directory) + "/run.json") {
            request.alsoWrites.append(directory)
        }
        if options.repositories.isEmpty { request.repositories = GitProbe.repositoryPaths(in: sections["git"]) }
        // Datasets are matched by name: hashed again at their recorded paths, or where
        // --dataset NAME=PATH says they are on this machine, listing files where the recorded
        // manifest did (live only: under --root the recorded section is kept, not compared).
        if options.root == nil, sections["datasets"]?["status"] != "skipped",
           let recordedDatasets = DatasetsSection.decode(sections["datasets"]?["data"])?.datasets, !recordedDatasets.isEmpty
        {
            let given = Set(options.datasets.compactMap { $0.split(separator: "=", maxSplits: 1).first.map(String.init) })
            request.datasets = options.datasets + recordedDatasets.keys.sorted().filter { !given.contains($0) }
                .map { "\($0)=\(recordedDatasets[$0]!.path)" }
            request.datasetListFiles = recordedDatasets.mapValues { $0.files != nil }
        }
        let outcome = capture(try plan(request))
        var patches: [String: [UInt8]] = [:]
        for companion in outcome.companions where companion.kind == .patch { patches[Manifest.sha256(companion.bytes)] = companion.bytes }
        var json = outcome.manifest.json
        if case .object(var object) = json, case .object(var captured)? = object["sections"] {
            for (id, section) in sections where captured[id] == nil { captured[id] = section }
            object["sections"] = .object(captured)
            json = .object(object)
        }
        return (json, patches)
    }
}
