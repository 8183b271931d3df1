import ProvenanceCore
import ProvenanceProbeKit

/// A probe described in a JSON or YAML file (schema `Schemas/probe-1.1.0.schema.json`): named
/// fields, each read from a file or a command and extracted with a regular expression (its first
/// capture group) or a JSON pointer — the common "what version is X" case, without code.
/// `identifying: [field, …]` marks fields whose values identify the site (`--anonymize`
/// replaces them); each must name one of the fields.
///
/// Files are read and commands run through the capture context, so a declarative probe works
/// unchanged on a recorded machine. A field whose file or command is not there is left out; the
/// section is `absent` when no field was found, `partial` when some were.
public struct DeclarativeProbe: Probe {
    public struct Field: Sendable, Equatable {
        public enum Source: Sendable, Equatable {
            /// The first of these files that exists.
            case file([String])
            case command([String])
        }
        public var name: String
        public var source: Source
        public var regex: String?
        public var pointer: String?
    }

    public let id: String
    public let version: String
    public let summary: String
    public let fields: [Field]
    public let path: String
    /// The fields whose values identify the site.
    public let identifying: [String]

    public var descriptor: ProbeDescriptor {
        var reads: [String] = []
        var runs: [String] = []
        for field in fields {
            switch field.source {
            case .file(let paths): reads += paths
            case .command(let argv): runs.append(argv.joined(separator: " "))
            }
        }
        var descriptor = ProbeDescriptor(id: id, version: version, summary: summary + " (declarative: \(path))",
                                         reads: reads, runs: runs)
        descriptor.identifying = identifying
        return descriptor
    }

    /// Reads a declarative probe document; `path` names it in errors.
    public init(document: JSONValue, path: String) throws(ProbeDefinitionError) {
        func fail(_ message: String) -> ProbeDefinitionError { ProbeDefinitionError("\(path): \(message)") }
        guard case .object(let object) = document else { throw fail("a probe definition is an object") }
        for key in object.keys where !["id", "version", "summary", "fields", "identifying"].contains(key) {
            throw fail("unknown key \"\(key)\"")
        }
        guard let id = object["id"]?.stringValue, isValidProbeID(id) else {
            throw fail("\"id\" must be a section id such as \"lustre\" or \"site.licence\"")
        }
        guard case .object(let fieldMap)? = object["fields"], !fieldMap.isEmpty else {
            throw fail("\"fields\" must be a non-empty object")
        }
        var fields: [Field] = []
        for name in fieldMap.keys.sorted() {
            guard case .object(let spec) = fieldMap[name]! else { throw fail("field \(name) must be an object") }
            for key in spec.keys where !["file", "command", "regex", "pointer"].contains(key) {
                throw fail("field \(name): unknown key \"\(key)\"")
            }
            let source: Field.Source
            switch (spec["file"], spec["command"]) {
            case (.string(let file)?, nil): source = .file([file])
            case (.array(let files)?, nil) where !files.isEmpty && files.allSatisfy({ $0.stringValue?.hasPrefix("/") == true }):
                source = .file(files.compactMap(\.stringValue))
            case (nil, .array(let argv)?) where !argv.isEmpty && argv.allSatisfy({ $0.stringValue != nil }):
                source = .command(argv.compactMap(\.stringValue))
            default:
                throw fail("field \(name) needs exactly one of \"file\" (absolute path or list) or \"command\" (argv list)")
            }
            if case .file(let files) = source, !files.allSatisfy({ $0.hasPrefix("/") }) {
                throw fail("field \(name): files are absolute paths")
            }
            let regex = spec["regex"]?.stringValue
            if let regex {
                do { _ = try Regex(regex) } catch { throw fail("field \(name): invalid regex: \(error)") }
            }
            let pointer = spec["pointer"]?.stringValue
            if regex != nil && pointer != nil { throw fail("field \(name): use \"regex\" or \"pointer\", not both") }
            if let pointer, !(pointer.isEmpty || pointer.hasPrefix("/")) { throw fail("field \(name): a JSON pointer starts with /") }
            fields.append(Field(name: name, source: source, regex: regex, pointer: pointer))
        }
        var identifying: [String] = []
        if let marked = object["identifying"] {
            guard case .array(let names) = marked, !names.isEmpty, names.allSatisfy({ $0.stringValue != nil }) else {
                throw fail("\"identifying\" must be a non-empty list of field names")
            }
            for name in names.compactMap(\.stringValue) {
                guard fieldMap[name] != nil else { throw fail("\"identifying\" names \(name), which is not one of its fields") }
                if !identifying.contains(name) { identifying.append(name) }
            }
        }
        self.identifying = identifying.sorted()
        self.id = id
        self.version = object["version"]?.stringValue ?? "1.0.0"
        self.summary = object["summary"]?.stringValue ?? "Site probe \(id)"
        self.fields = fields
        self.path = path
    }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> [String: String] {
        var values: [String: String] = [:]
        var missing: [String] = []
        for field in fields {
            let text: String?
            let origin: String
            switch field.source {
            case .file(let paths):
                origin = paths.joined(separator: " | ")
                text = paths.lazy.compactMap { try? context.fs.read($0) }.first
            case .command(let argv):
                origin = argv.joined(separator: " ")
                let result = context.run(argv)
                if result.outcome == .notFound {
                    text = nil
                } else if !result.succeeded {
                    report.issue(origin, result.failureDescription)
                    continue
                } else {
                    text = result.stdoutText
                }
            }
            guard let text else {
                missing.append(field.name)
                continue
            }
            if let value = extract(text, field) {
                values[field.name] = value
            } else {
                report.issue(origin, field.regex != nil ? "no match for /\(field.regex!)/" : "no value at \(field.pointer ?? "")")
            }
        }
        if values.isEmpty && report.issues.isEmpty {
            throw ProbeAbsent(source: path, reason: "none of its files or commands is on this machine")
        }
        return values
    }

    func extract(_ text: String, _ field: Field) -> String? {
        if let pattern = field.regex, let regex = try? Regex(pattern) {
            guard let match = try? regex.firstMatch(in: text) else { return nil }
            let output = match.output
            let captured = output.count > 1 ? output[1].substring : output[0].substring
            return captured.map { String($0).trimmed }
        }
        if let pointer = field.pointer {
            guard let document = try? JSONParser.parse(text), let value = jsonPointer(pointer, in: document) else { return nil }
            if case .string(let s) = value { return s }
            return CanonicalJSON.string(value)
        }
        let trimmed = text.trimmed
        return trimmed.isEmpty ? nil : trimmed
    }
}

/// Resolves an RFC 6901 JSON pointer (`/a/0/b`, with `~1` for `/` and `~0` for `~`).
public func jsonPointer(_ pointer: String, in document: JSONValue) -> JSONValue? {
    if pointer.isEmpty { return document }
    var current = document
    for raw in pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
        let token = raw.replacing("~1", with: "/").replacing("~0", with: "~")
        switch current {
        case .object(let object):
            guard let next = object[String(token)] else { return nil }
            current = next
        case .array(let array):
            guard let index = Int(token), index >= 0, index < array.count else { return nil }
            current = array[index]
        default:
            return nil
        }
    }
    return current
}

/// Section ids: lowercase words separated by dots (`lustre`, `site.licence-server`).
public func isValidProbeID(_ id: String) -> Bool {
    let parts = id.split(separator: ".", omittingEmptySubsequences: false)
    return !parts.isEmpty && parts.enumerated().allSatisfy { index, part in
        guard let first = part.first, first.isASCII, first.isLowercase else { return false }
        return part.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }
}

/// A probe file that cannot be used.
public struct ProbeDefinitionError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
