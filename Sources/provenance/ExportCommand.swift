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
            dockerfile, apptainer, mlperf-system (an MLPerf system description JSON), ro-crate (a Process Run \
            Crate of a run directory: ro-crate-metadata.json, written into the run directory unless -o). The input is a manifest or a run directory (its env.json). \
            Whatever cannot be exported is listed on standard error and as comments in the file. \
            Exit status: 0 written, 64 usage, 65 not a readable manifest or nothing to export in \
            that format, 66 no such file, 73 the output cannot be written.
            """)

    @Argument(help: "requirements, pylock, conda, conda-explicit, os-packages, dockerfile, apptainer, mlperf-system or ro-crate.")
    var format: Export.Format
    @Argument(help: "A manifest, or a run directory holding env.json.") var manifest: String
    @Option(name: [.short, .customLong("output")], help: "Where to write ('-' for standard output; ro-crate: RUN_DIR/ro-crate-metadata.json).")
    var output: String?

    func run() throws {
        if format == .roCrate { return try exportROCrate() }
        let output = self.output ?? "-"
        let path = RootedFileSystem().isDirectory(absolutePath(manifest)) ? manifest + "/env.json" : manifest
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

    /// `ro-crate`: run.json and env.json read, the directory's own files (env.json, run.json, the
    /// patches) hashed, the crate written into the run directory (or to -o).
    private func exportROCrate() throws {
        let fs = RootedFileSystem()
        let directory = absolutePath(manifest)
        guard fs.isDirectory(directory) else {
            throw UserError(message: "export ro-crate: \(manifest): not a run directory", code: Exit.noInput)
        }
        guard let runBytes = try? fs.readBytes(directory + "/run.json") else {
            throw UserError(message: "export ro-crate: \(manifest)/run.json: no such file or not readable", code: Exit.noInput)
        }
        let run: JSONValue
        do {
            run = try JSONParser.parse(runBytes)
        } catch {
            throw UserError(message: "export ro-crate: \(manifest)/run.json: not JSON: \(error)", code: Exit.badInput)
        }
        let envPath = directory + "/env.json"
        let document: JSONValue? = fs.exists(envPath) ? try readManifest(envPath) : nil
        var names = ["env.json", "run.json"]
        if let attachments = document?["attachments"]?.objectValue {
            names += attachments.values.compactMap { $0["file"]?.stringValue }.sorted()
        }
        var files: [ROCrateExport.FileFact] = []
        for name in names where !name.contains("/") && fs.exists(directory + "/" + name) {
            do {
                let (digest, bytes) = try FileSHA256.sha256AndSize(path: directory + "/" + name)
                files.append(.init(name: name, bytes: bytes, sha256: digest,
                                   mediaType: name.hasSuffix(".json") ? "application/json" : "text/x-diff"))
            } catch {
                printError("provenance export: not exported: \(name): \(error)")
            }
        }
        let result: Export.Output
        do {
            result = try ROCrateExport.render(run: run, manifest: document, files: files, runDirectory: directory)
        } catch {
            throw UserError(message: "export ro-crate: \(manifest): \(error.description)", code: Exit.badInput)
        }
        for entry in result.skipped {
            printError("provenance export: not exported: \(entry.item): \(entry.reason)")
        }
        try writeOutput(Array(result.text.utf8), to: output ?? directory + "/ro-crate-metadata.json")
    }
}
