import ArgumentParser
import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes

struct ProbesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probes",
        abstract: "List the probes: id, version, what each reads and runs, whether it is on by default.")

    enum Format: String, ExpressibleByArgument { case text, json }

    @Option(help: "text or json.")
    var format: Format = .text

    func run() throws {
        let descriptors = BuiltinProbes.all.map(\.descriptor)
        switch format {
        case .json:
            let list: JSONValue = .array(descriptors.map { d in
                var object: [String: JSONValue] = [
                    "id": .string(d.id), "version": .string(d.version), "summary": .string(d.summary),
                    "reads": .array(d.reads.map { .string($0) }), "runs": .array(d.runs.map { .string($0) }),
                    "enabledByDefault": .bool(d.enabledByDefault),
                ]
                if let seconds = d.timeoutSeconds { object["timeoutSeconds"] = .double(seconds) }
                return .object(object)
            })
            writeStandardOutput(CanonicalJSON.pretty(list))
        case .text:
            var lines: [String] = []
            for d in descriptors {
                lines.append("\(d.id) \(d.version) [\(d.enabledByDefault ? "on" : "off")]  \(d.summary)")
                if !d.reads.isEmpty { lines.append("    reads: \(d.reads.joined(separator: ", "))") }
                if !d.runs.isEmpty { lines.append("    runs:  \(d.runs.joined(separator: "; "))") }
            }
            writeStandardOutput(Array((lines.joined(separator: "\n") + "\n").utf8))
        }
    }
}
