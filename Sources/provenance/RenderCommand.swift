import ArgumentParser
import ProvenanceCore
import ProvenanceProbeKit

extension EnvironmentRenderer.Format: ExpressibleByArgument {}

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a manifest or run directory as a computational-environment appendix for a paper.",
        discussion: """
            Hardware (CPU, cores, memory), accelerators (gpu.*, cuda sections when present), OS, \
            kernel and C library, Python and notable packages, toolchains, code commit, dataset \
            digests and the manifest fingerprint; for a run directory (env.json and run.json) the \
            run as well: command, seeds, parameters and where each came from, exit status, \
            duration, outputs with their digests, and the compute used. Several run directories \
            give a summary of the compute used: GPU-hours and CPU-hours per run and in total, peak \
            memory. --full adds every section's data flattened; --anonymize replaces host, \
            cluster and user names, paths, remote URLs and organisations, serial numbers, UUIDs, \
            MAC addresses and the values site probes mark identifying for double-blind review. LaTeX is a fragment to \\input (no package \
            needed), --standalone a whole document for pdflatex; HTML one self-contained page. \
            Exit status: 0 written, 64 several inputs that are not all run directories, 65 not a \
            readable manifest or run record, 66 no such file, 73 the output cannot be written.
            """)

    @Argument(help: "The manifest or run directory to render, or several run directories.") var inputs: [String]
    @Option(help: "markdown, latex or html.") var format: EnvironmentRenderer.Format = .markdown
    @Flag(help: "Add a table of every section's data.") var full = false
    @Flag(help: "Replace identifying values (host, user and organisation names, paths, remote URLs, serial numbers, UUIDs, MAC addresses, values site probes mark identifying).")
    var anonymize = false
    @Flag(help: "LaTeX: a whole document rather than a fragment to \\input.") var standalone = false
    @Option(name: [.short, .customLong("output")], help: "Where to write ('-' for standard output).")
    var output = "-"

    func run() throws {
        guard !inputs.isEmpty else { throw UserError(message: "render: name a manifest or run directory", code: Exit.usage) }
        var documents: [JSONValue] = []
        let summary: EnvironmentSummary
        if inputs.count == 1, !RootedFileSystem().isDirectory(absolutePath(inputs[0])) {
            let manifest = try readManifest(inputs[0])
            documents = [manifest]
            summary = EnvironmentSummary(manifest: manifest, full: full)
        } else if inputs.count == 1 {
            let (manifest, run) = try readRunDirectory(inputs[0])
            documents = [manifest] + (run.map { [$0] } ?? [])
            summary = run.map { EnvironmentSummary(manifest: manifest, run: $0, full: full) }
                ?? EnvironmentSummary(manifest: manifest, full: full)
        } else {
            var runs: [ComputeUsed] = []
            for input in inputs {
                guard RootedFileSystem().isDirectory(absolutePath(input)) else {
                    throw UserError(message: "\(input): not a run directory (several inputs give the compute used by runs)", code: Exit.usage)
                }
                let (manifest, run) = try readRunDirectory(input)
                guard let run else { throw UserError(message: "\(input): no run.json", code: Exit.noInput) }
                documents += [manifest, run]
                runs.append(ComputeUsed(name: input, manifest: manifest, run: run))
            }
            summary = EnvironmentSummary(groups: [ComputeUsed.group(runs)])
        }
        let rendered = anonymize ? summary.anonymized(documents: documents) : summary
        let bytes = Array(EnvironmentRenderer.render(rendered, format: format, standalone: standalone).utf8)
        try writeOutput(bytes, to: output)
    }


    /// A run directory's env.json and, when there, its run.json.
    private func readRunDirectory(_ directory: String) throws -> (JSONValue, JSONValue?) {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let manifest = try readManifest(base + "/env.json")
        guard RootedFileSystem().exists(absolutePath(base + "/run.json")) else { return (manifest, nil) }
        let bytes = try readInputFile(base + "/run.json", what: "run record")
        do {
            let run = try JSONParser.parse(bytes)
            guard run.objectValue != nil else { throw UserError(message: "\(base)/run.json: not a run record", code: Exit.badInput) }
            return (manifest, run)
        } catch let error as UserError {
            throw error
        } catch {
            throw UserError(message: "\(base)/run.json: \(error)", code: Exit.badInput)
        }
    }
}
