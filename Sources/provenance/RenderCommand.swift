import ArgumentParser
import ProvenanceCore
import ProvenanceProbeKit

extension EnvironmentRenderer.Format: ExpressibleByArgument {}

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a manifest as a computational-environment appendix for a paper.",
        discussion: """
            Hardware (CPU, cores, memory), accelerators (gpu.*, cuda sections when present), OS, \
            kernel and C library, Python and notable packages, toolchains, code commit, dataset \
            digests and the manifest fingerprint; --full adds every section's data flattened. \
            LaTeX is a standalone document for pdflatex; HTML one self-contained page. Exit \
            status: 0 written, 65 not a readable manifest, 66 no such file, 73 the output cannot \
            be written.
            """)

    @Argument(help: "The manifest to render.") var manifest: String
    @Option(help: "markdown, latex or html.") var format: EnvironmentRenderer.Format = .markdown
    @Flag(help: "Add a table of every section's data.") var full = false
    @Option(name: [.short, .customLong("output")], help: "Where to write ('-' for standard output).")
    var output = "-"

    func run() throws {
        let document = try readManifest(manifest)
        let bytes = Array(EnvironmentRenderer.render(document, format: format, full: full).utf8)
        try writeOutput(bytes, to: output)
    }
}
