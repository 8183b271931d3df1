import ArgumentParser
import ProvenanceCore
import ProvenanceProbeKit

extension Export.Format: ExpressibleByArgument {}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Turn a manifest into files that rebuild its environment.",
        discussion: """
            Formats: requirements (requirements.txt with exact pins), pylock (pylock.toml, PEP 751), \
            conda (environment.yml), conda-explicit (@EXPLICIT spec), os-packages (apt/dnf/apk pins), \
            dockerfile, apptainer. The input is a manifest or a run directory (its env.json). \
            Whatever cannot be exported is listed on standard error and as comments in the file. \
            Exit status: 0 written, 64 usage, 65 not a readable manifest or nothing to export in \
            that format, 66 no such file, 73 the output cannot be written.
            """)

    @Argument(help: "requirements, pylock, conda, conda-explicit, os-packages, dockerfile or apptainer.")
    var format: Export.Format
    @Argument(help: "A manifest, or a run directory holding env.json.") var manifest: String
    @Option(name: [.short, .customLong("output")], help: "Where to write ('-' for standard output).")
    var output = "-"

    func run() throws {
        let path = RootedFileSystem().isDirectory(absolute(manifest)) ? manifest + "/env.json" : manifest
        let document = try readManifest(path)
        let result: Export.Output
        do {
            result = try Export.export(format, manifest: document)
        } catch {
            throw UserError(message: "export \(format.rawValue): \(path): \(error.description)", code: Exit.badInput)
        }
        for entry in result.skipped {
            printError("provenance export: not exported: \(entry.item): \(entry.reason)")
        }
        try writeOutput(Array(result.text.utf8), to: output)
    }

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : currentDirectory() + "/" + path
    }
}
