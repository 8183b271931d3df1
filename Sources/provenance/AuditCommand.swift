import ArgumentParser
import ProvenanceCore
import ProvenanceProbeKit

enum AuditFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, html
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Find drift across many manifests (one per node): groups of identical nodes, outliers per field.",
        discussion: """
            Each input is a manifest or a directory (its *.json files). Nodes are named by the \
            manifest's hostName, else by the file name. Identity fields (serial numbers, UUIDs, \
            board ids) are ignored by default; with --policy only the fields whose rule is not \
            'ignore' matter. With --compare A B, reports the fields whose value distribution \
            differs between the two groups (clusters, or before/after an upgrade). The manifests \
            are read one at a time: memory grows with the distinct values, not the node count. \
            Exit status: 0 all nodes agree (or both groups are distributed alike), 2 differences, \
            65 an input is not a readable manifest, 66 an input does not exist or a directory \
            holds no manifest.
            """)

    @Argument(help: ArgumentHelp("Manifests or directories of manifests.", valueName: "DIR_OR_FILE"))
    var inputs: [String]
    @Flag(help: "Compare two groups: exactly two inputs, A then B.") var compare = false
    @Option(help: "strict, default, lenient, or a policy file (default: everything but identity fields).")
    var policy: String?
    @Option(help: "text, json or html.") var format: AuditFormat = .text
    @Option(name: .customLong("name-by"),
            help: "Name nodes by 'host' (the manifest's hostName, else the file name) or by 'file' name.")
    var nameBy: NodeNaming = .host

    enum NodeNaming: String, ExpressibleByArgument, CaseIterable { case host, file }

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one manifest or directory") }
        if compare && inputs.count != 2 { throw ValidationError("--compare takes exactly two inputs (A and B)") }
    }

    func run() throws {
        let chosen = try policy.map(loadPolicy) ?? AuditBuilder.defaultPolicy
        var builder = AuditBuilder(policy: chosen)
        var reader = AuditFileReader()
        defer { reader.deallocate() }
        for (index, input) in inputs.enumerated() {
            let files = try manifestFiles(input)
            for file in files {
                let parts = file.split(separator: "/")
                let base = String(parts.last ?? Substring(file))
                var name = base.hasSuffix(".json") ? String(base.dropLast(5)) : base
                // A run directory's env.json is named after the run directory.
                if base == "env.json", parts.count > 1, isRunDirectory(parts.dropLast().joined(separator: "/")) {
                    name = String(parts[parts.count - 2])
                }
                let problem = try reader.withBytes(of: file) { bytes in
                    add(bytes, to: &builder, name: name, side: compare ? UInt8(index) : 0, path: file)
                }
                if let problem { throw UserError(message: "\(file): \(problem)", code: Exit.badInput) }
            }
        }
        let report = builder.finish(compare: compare)
        let sideNames = compare ? inputs : ["A", "B"]
        switch format {
        case .text: writeStandardOutput(report.text(sideNames: sideNames))
        case .json: report.writePrettyJSON(sideNames: sideNames) { writeStandardOutput($0) }
        case .html: writeStandardOutput(Array(report.html(sideNames: sideNames).utf8))
        }
        if !report.agrees { throw ExitCode(Exit.differences) }
    }

    /// Adds one manifest; returns why it cannot be read, if it cannot.
    private func add(_ bytes: UnsafeBufferPointer<UInt8>, to builder: inout AuditBuilder, name: String, side: UInt8,
                     path: String) -> String? {
        do {
            try builder.add(bytes: bytes, fallbackName: name, ignoreHostName: nameBy == .file, side: side, path: path)
            return nil
        } catch {
            return error.description
        }
    }

    /// Whether a directory is a `provenance run` directory (env.json beside run.json).
    private func isRunDirectory(_ directory: String) -> Bool {
        let fs = RootedFileSystem()
        let absolute = directory.hasPrefix("/") ? directory : currentDirectory() + "/" + directory
        return fs.exists(absolute + "/env.json") && fs.exists(absolute + "/run.json")
    }

    /// A file, a run directory's env.json, or a directory's `*.json` files in name order and
    /// the env.json of each run directory in it (`runs/*/env.json`).
    private func manifestFiles(_ input: String) throws -> [String] {
        let absolute = input.hasPrefix("/") ? input : currentDirectory() + "/" + input
        let fs = RootedFileSystem()
        if fs.isDirectory(absolute) {
            let names: [String]
            do {
                names = try fs.list(absolute) ?? []
            } catch {
                throw UserError(message: "\(input): \(error.message)", code: Exit.noInput)
            }
            let prefix = input.hasSuffix("/") ? input : input + "/"
            if isRunDirectory(input) { return [prefix + "env.json"] }
            let files = names.sorted().flatMap { name -> [String] in
                if name.hasSuffix(".json") { return [prefix + name] }
                if fs.isDirectory(absolute + "/" + name), isRunDirectory(prefix + name) { return [prefix + name + "/env.json"] }
                return []
            }
            if files.isEmpty { throw UserError(message: "\(input): no *.json manifests in this directory", code: Exit.noInput) }
            return files
        }
        guard fs.exists(absolute) else { throw UserError(message: "\(input): no such file or directory", code: Exit.noInput) }
        return [input]
    }
}
