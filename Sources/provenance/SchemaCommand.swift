import ArgumentParser
import ProvenanceCore

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the manifest JSON Schema, generated from the section models.",
        discussion: """
            The schema of the manifest version this provenance writes (\(Manifest.schemaVersion)): the \
            envelope, and each built-in section's data as its model encodes it; site-probe sections \
            have the generic section shape. Schemas/manifest-\(Manifest.schemaVersion).schema.json is \
            this output (regenerate it with `provenance schema -o Schemas/manifest-\
            \(Manifest.schemaVersion).schema.json`); a published schema file is never edited. \
            Exit status: 0 written, 73 the output cannot be written.
            """)

    @Option(name: [.short, .customLong("output")], help: "Where to write ('-' for standard output).")
    var output = "-"

    func run() throws {
        try writeOutput(CanonicalJSON.pretty(ManifestSchema.generate()), to: output)
    }
}
