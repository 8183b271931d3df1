/// A Workflow Run RO-Crate of a run directory (`provenance export ro-crate RUN_DIR`), following
/// the Process Run Crate profile 0.5 (https://w3id.org/ro/wfrun/process/0.5): the run's
/// `ro-crate-metadata.json`.
///
/// - The files of the run directory (env.json, run.json, the git patches) and the run's outputs
///   are data entities (`File`, or `Dataset` for a directory), with `contentSize` and `sha256`.
///   Outputs inside the run directory are referenced by relative path; outputs elsewhere by their
///   absolute `file://` URI (the crate does not carry them); all are in the root's `hasPart`.
/// - The command is a `CreateAction` (an `ActivateAction` when it left no output: nothing created):
///   `instrument` the program run (a `SoftwareApplication`),
///   `object` the datasets the manifest recorded, `result` the outputs, `startTime`/`endTime`
///   from run.json (UTC written `+00:00`), `actionStatus` Completed or Failed (with `error`) from
///   its exit status, as the IRI `{"@id": "http://schema.org/CompletedActionStatus"}` the
///   RO-Crate 1.1 examples use. A property with one value is written as that value, not a
///   singleton array (RO-Crate 1.1's JSON-LD recommendation).
/// - provenance itself is the `instrument` of a second `CreateAction` whose `result` is the
///   record (env.json, run.json, patches): the profile's `agent` is a Person or Organization,
///   which a run directory does not name, so no agent is written.
///
/// Pure: run.json, the manifest and the facts about the directory's files in, JSON-LD out.
public enum ROCrateExport {
    public static let profile = "https://w3id.org/ro/wfrun/process/0.5"

    /// A file of the run directory, as the command found it.
    public struct FileFact: Sendable, Equatable {
        /// The name inside the run directory (`env.json`, `env.diff.patch`).
        public var name: String
        public var bytes: Int64
        /// Hex SHA-256.
        public var sha256: String
        public var mediaType: String
        public init(name: String, bytes: Int64, sha256: String, mediaType: String) {
            self.name = name
            self.bytes = bytes
            self.sha256 = sha256
            self.mediaType = mediaType
        }
    }

    /// - Parameters:
    ///   - run: run.json.
    ///   - manifest: env.json, when the run directory has one.
    ///   - files: the run directory's own files to describe (env.json, run.json, patches).
    ///   - runDirectory: the run directory's absolute path (to tell outputs inside it from others).
    public static func render(run: JSONValue, manifest: JSONValue?, files: [FileFact], runDirectory: String) throws(Export.Error) -> Export.Output {
        guard let command = run["command"]?.arrayValue?.compactMap(\.stringValue), let program = command.first else {
            throw Export.Error(description: "run.json has no command: not a run record of `provenance run`")
        }
        var skipped: [Export.Skipped] = []
        var graph: [JSONValue] = []
        let directory = runDirectory.hasSuffix("/") ? String(runDirectory.dropLast()) : runDirectory
        let workingDirectory = manifest.flatMap { RunSection.read(from: $0)?.workingDirectory }

        // The record's own files.
        var recordIDs: [JSONValue] = []
        for file in files {
            graph.append(.object([
                "@id": .string(encode(file.name)), "@type": "File", "name": .string(Export.clean(file.name)),
                "encodingFormat": .string(file.mediaType), "contentSize": .string(String(file.bytes)),
                "sha256": .string(file.sha256),
                "description": .string(describe(file.name)),
            ]))
            recordIDs.append(["@id": .string(encode(file.name))])
        }

        // Outputs: results of the command.
        var resultIDs: [JSONValue] = []
        for output in run["outputs"]?.arrayValue ?? [] {
            guard let path = output["path"]?.stringValue else { continue }
            if output["missing"] == true { skipped.append(.init(path, "output missing when the command ended")); continue }
            if let error = output["error"]?.stringValue { skipped.append(.init(path, "output not read: \(error)")); continue }
            let absolute = path.hasPrefix("/") ? path : (workingDirectory.map { $0 + "/" + path } ?? path)
            let isDirectory = output["kind"]?.stringValue == "directory"
            var id: String
            if absolute.hasPrefix(directory + "/") {
                id = encode(String(absolute.dropFirst(directory.count + 1)))
            } else if absolute.hasPrefix("/") {
                id = "file://" + encode(absolute)
            } else {
                skipped.append(.init(path, "a relative output path and no working directory in env.json")); continue
            }
            if isDirectory && !id.hasSuffix("/") { id += "/" }
            var entity: [String: JSONValue] = ["@id": .string(id), "@type": .string(isDirectory ? "Dataset" : "File"),
                                               "name": .string(Export.clean(path))]
            if let digest = output["sha256"]?.stringValue { entity["sha256"] = .string(hex(digest)) }
            if let digest = output["digest"]?.stringValue { entity["identifier"] = .string(Export.clean(digest)) }
            if let bytes = output["bytes"]?.intValue ?? output["totalBytes"]?.intValue { entity["contentSize"] = .string(String(bytes)) }
            if !isDirectory { entity["encodingFormat"] = .string(mediaType(ofPath: path)) }
            graph.append(.object(entity))
            resultIDs.append(["@id": .string(id)])
        }

        // Inputs: the datasets the manifest recorded.
        var objectIDs: [JSONValue] = []
        if let datasets = manifest.flatMap({ DatasetsSection.read(from: $0) })?.datasets {
            for (name, dataset) in datasets.sorted(by: { $0.key < $1.key }) {
                let absolute = dataset.realPath ?? dataset.path
                guard absolute.hasPrefix("/") else { skipped.append(.init(name, "dataset path is not absolute")); continue }
                var id = "file://" + encode(absolute)
                let isDirectory = dataset.kind == "directory"
                if isDirectory && !id.hasSuffix("/") { id += "/" }
                graph.append(.object([
                    "@id": .string(id), "@type": .string(isDirectory ? "Dataset" : "File"),
                    "name": .string(Export.clean(name)), "identifier": .string(Export.clean(dataset.digest)),
                    "contentSize": .string(String(dataset.totalBytes)),
                    "description": .string("dataset \(Export.clean(name)): \(dataset.fileCount) files"),
                ]))
                objectIDs.append(["@id": .string(id)])
            }
        }

        // The program run, and provenance.
        let programName = Export.clean(program.split(separator: "/").last.map(String.init) ?? program)
        let programID = "#program-" + encode(programName)
        graph.append(.object(["@id": .string(programID), "@type": "SoftwareApplication", "name": .string(programName),
                              "description": .string("the program the run executed: \(Export.clean(program))")]))
        // The project's identifier namespace (as the manifest's predicate types `https://provenance.dev/…`).
        let toolID = "https://provenance.dev/tool/\(ProvenanceVersion.current)"
        graph.append(.object(["@id": .string(toolID), "@type": "SoftwareApplication", "name": "provenance",
                              "softwareVersion": .string(ProvenanceVersion.current),
                              "url": "https://provenance.dev/"]))

        // A run that left no output created nothing: the profile's ActivateAction ("MAY be
        // ActivateAction if the provenance does not include any result").
        var action: [String: JSONValue] = [
            "@id": "#run", "@type": .string(resultIDs.isEmpty ? "ActivateAction" : "CreateAction"),
            "name": .string("Run of " + programName),
            "description": .string("command line: " + command.map(Export.clean).joined(separator: " ")),
            "instrument": ["@id": .string(programID)],
        ]
        if !objectIDs.isEmpty { action["object"] = oneOrMany(objectIDs) }
        if !resultIDs.isEmpty { action["result"] = oneOrMany(resultIDs) }
        if let start = run["startTime"]?.stringValue { action["startTime"] = .string(dateTime(start)) }
        if let end = run["endTime"]?.stringValue { action["endTime"] = .string(dateTime(end)) }
        if let exit = run["exit"] {
            if let code = exit["code"]?.intValue, code == 0 {
                action["actionStatus"] = ["@id": "http://schema.org/CompletedActionStatus"]
            } else {
                action["actionStatus"] = ["@id": "http://schema.org/FailedActionStatus"]
                if let code = exit["code"]?.intValue { action["error"] = .string("exit status \(code)") }
                else if let signal = exit["signal"]?.intValue { action["error"] = .string("killed by signal \(signal)") }
                else if let reason = exit["notStarted"]?.stringValue { action["error"] = .string("not started: " + Export.clean(reason)) }
            }
        } else {
            skipped.append(.init("actionStatus", "run.json has no exit status"))
        }
        graph.append(.object(action))
        var capture: [String: JSONValue] = [
            "@id": "#provenance-record", "@type": "CreateAction", "name": "Provenance record of the run",
            "description": "environment manifest and run record written by provenance run",
            "instrument": ["@id": .string(toolID)],
            "actionStatus": ["@id": "http://schema.org/CompletedActionStatus"],
            "result": oneOrMany(recordIDs),
        ]
        if let end = run["endTime"]?.stringValue { capture["endTime"] = .string(dateTime(end)) }
        if let start = run["startTime"]?.stringValue { capture["startTime"] = .string(dateTime(start)) }
        graph.append(.object(capture))

        var root: [String: JSONValue] = [
            "@id": "./", "@type": "Dataset",
            "name": .string("Run of " + programName),
            "description": .string("Run directory of `provenance run`: " + command.map(Export.clean).joined(separator: " ")),
            "datePublished": .string(dateTime(run["endTime"]?.stringValue ?? run["startTime"]?.stringValue ?? "")),
            "license": ["@id": "https://creativecommons.org/licenses/by/4.0/"],
            "conformsTo": ["@id": .string(profile)],
            // Every data entity, the ones outside the directory (absolute `file://`) too, as
            // RO-Crate 1.1 asks ("data entities … linked from the root via hasPart").
            "hasPart": oneOrMany(recordIDs + resultIDs + objectIDs),
            "mentions": [["@id": "#run"], ["@id": "#provenance-record"]],
        ]
        if root["datePublished"] == "" { root["datePublished"] = nil }
        let descriptor: JSONValue = [
            "@id": "ro-crate-metadata.json", "@type": "CreativeWork",
            "conformsTo": ["@id": "https://w3id.org/ro/crate/1.1"], "about": ["@id": "./"],
        ]
        let profileEntity: JSONValue = ["@id": .string(profile), "@type": "CreativeWork", "name": "Process Run Crate", "version": "0.5"]
        let license: JSONValue = ["@id": "https://creativecommons.org/licenses/by/4.0/", "@type": "CreativeWork", "name": "CC BY 4.0"]
        let document: JSONValue = [
            "@context": ["https://w3id.org/ro/crate/1.1/context", "https://w3id.org/ro/terms/workflow-run/context"],
            "@graph": .array([descriptor, .object(root), profileEntity, license] + graph),
        ]
        return Export.Output(text: String(decoding: CanonicalJSON.pretty(document), as: UTF8.self), skipped: skipped)
    }

    static func describe(_ name: String) -> String {
        if name == "env.json" { return "environment manifest (provenance capture)" }
        if name == "run.json" { return "run record: command, times, exit status, outputs" }
        if name.hasSuffix(".patch") { return "uncommitted changes of a git repository at the run" }
        return "file of the run directory"
    }

    /// RO-Crate 1.1 recommends a single value rather than a singleton array ("object": {"@id": …}).
    static func oneOrMany(_ values: [JSONValue]) -> JSONValue {
        values.count == 1 ? values[0] : .array(values)
    }

    /// A run.json time (`2026-12-02T06:31:38Z`) with its UTC offset written as `+00:00`: the same
    /// ISO 8601 instant, in the form the Process Run Crate profile's checks expect for
    /// `startTime`/`endTime` (`YYYY-MM-DDThh:mm:ss[.sss]+hh:mm`, as in the profile's examples).
    static func dateTime(_ time: String) -> String {
        let cleaned = Export.clean(time)
        return cleaned.hasSuffix("Z") ? String(cleaned.dropLast()) + "+00:00" : cleaned
    }

    /// The media type of an output by its file name extension (RO-Crate 1.1: a File SHOULD have an
    /// `encodingFormat`); `application/octet-stream` ("arbitrary binary data", RFC 2046) when the
    /// extension names none of these. The bytes are never sniffed: the crate describes, it does not guess.
    static func mediaType(ofPath path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "application/octet-stream" }
        switch name[name.index(after: dot)...].lowercased() {
        case "json": return "application/json"
        case "jsonl", "ndjson": return "application/x-ndjson"
        case "txt", "log", "out", "err": return "text/plain"
        case "csv": return "text/csv"
        case "tsv": return "text/tab-separated-values"
        case "md": return "text/markdown"
        case "html", "htm": return "text/html"
        case "xml": return "application/xml"
        case "yaml", "yml": return "application/yaml"
        case "toml": return "application/toml"
        case "pdf": return "application/pdf"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "svg": return "image/svg+xml"
        case "gz": return "application/gzip"
        case "zip": return "application/zip"
        case "tar": return "application/x-tar"
        case "patch", "diff": return "text/x-diff"
        default: return "application/octet-stream"
        }
    }

    /// `sha256:abc…` → `abc…`.
    static func hex(_ digest: String) -> String {
        Export.clean(digest.hasPrefix("sha256:") ? String(digest.dropFirst(7)) : digest)
    }

    /// A path as an IRI reference: percent-encodes what is not unreserved or `/` (RFC 3986).
    static func encode(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                let hexDigits = Array("0123456789ABCDEF")
                out += "%" + String(hexDigits[Int(byte >> 4)]) + String(hexDigits[Int(byte & 15)])
            }
        }
        return out
    }
}
