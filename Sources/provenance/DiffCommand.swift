import ArgumentParser
import ProvenanceCore

enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, markdown
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what changed between two manifests, grouped by section, most important first.",
        discussion: """
            Compares each section's status and data; capture times, durations, host names and \
            volatile values are ignored. Records are matched by identity (GPU by bus id or UUID, \
            package by name, file by path), plain lists as sets. Exit status: 0 no differences, \
            2 differences, 65 an input is not a readable manifest, 66 an input does not exist.
            """)

    @Argument(help: "The older (recorded) manifest.") var old: String
    @Argument(help: "The newer manifest.") var new: String
    @Option(help: "text, json or markdown.") var format: ReportFormat = .text

    func run() throws {
        let oldManifest = try readManifest(old)
        let newManifest = try readManifest(new)
        let diff = ManifestDiff(old: oldManifest, new: newManifest)
        switch format {
        case .text:
            writeStandardOutput(DiffReport.text(diff, oldName: old, newName: new, color: useColor()))
        case .markdown:
            writeStandardOutput(DiffReport.markdown(diff, oldName: old, newName: new))
        case .json:
            writeStandardOutput(CanonicalJSON.pretty(DiffReport.json(diff, old: oldManifest, new: newManifest)))
        }
        if !diff.isEmpty { throw ExitCode(Exit.differences) }
    }
}

struct PoliciesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policies",
        abstract: "List the built-in policies, or print one as a policy file to start your own from.")

    @Argument(help: "A built-in policy to print (strict, default, lenient).") var name: String?

    func run() throws {
        guard let name else {
            let lines = Policy.builtins.map { "\($0.name): \($0.description)" }
            writeStandardOutput(Array((lines.joined(separator: "\n") + "\n").utf8))
            return
        }
        guard let policy = Policy.builtin(named: name) else {
            throw UserError(message: "unknown policy '\(name)' (built in: strict, default, lenient)", code: Exit.usage)
        }
        writeStandardOutput(CanonicalJSON.pretty(policy.json))
    }
}
