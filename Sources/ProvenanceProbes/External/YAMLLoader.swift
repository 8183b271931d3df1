import CLibYAML
import ProvenanceCore

/// Reads a YAML document (policies, site-probe definitions) into a `JSONValue`, within limits.
///
/// Parsing is libyaml's event parser (`yaml_parser_parse`, Debian's libyaml-0-2); this type only
/// builds the value, without recursion, and enforces the limits below, so hostile input gives one
/// clear error instead of a crash or gigabytes of memory:
/// - `maxBytes` (8 MiB): the size of the text;
/// - `maxDepth` (128): nesting of sequences and mappings — a 100,000-deep `[[[…` stops at 129;
/// - `maxNodes` (1,000,000): nodes after alias expansion — a "billion laughs" alias bomb stops
///   when its aliases would expand past it (each alias counts the nodes it stands for).
///
/// Why not Yams (the Swift YAML package used before): it imports Foundation, which makes the static
/// `provenance` binary carry Foundation, FoundationInternationalization and ICU's data: 96.2 MiB with
/// it against 51.1 MiB now (`--version` 12.2 → 7.3 ms mean), and no way to bound depth or alias
/// expansion (a 100,000-deep document overflowed the stack). See docs/architecture.md, "Dependency budget", for the figures.
///
/// Scalars are resolved as YAML 1.2's core schema, plus YAML 1.1's `yes/no/on/off` booleans (which
/// Yams resolved too, so existing files keep their meaning): `null`, `~` and empty are null; integers
/// (decimal, `0x`, `0o`) are `.int`; other numbers are `.double`; quoted scalars and a `!!str` tag are
/// always strings. Mapping keys must be scalars and unique; `<<` merges a mapping (or a list of them).
/// An empty stream is null; more than one document is an error.
public enum YAMLLoader {
    public struct Limits: Sendable {
        public var maxBytes: Int
        public var maxDepth: Int
        public var maxNodes: Int

        public init(maxBytes: Int = 8 << 20, maxDepth: Int = 128, maxNodes: Int = 1_000_000) {
            self.maxBytes = maxBytes
            self.maxDepth = maxDepth
            self.maxNodes = maxNodes
        }

        public static let `default` = Limits()
    }

    /// What was wrong, in one line (with the line and column where libyaml knows them).
    public struct Error: Swift.Error, CustomStringConvertible, Sendable, Equatable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public static func load(_ bytes: [UInt8], limits: Limits = .default) throws(Error) -> JSONValue {
        guard bytes.count <= limits.maxBytes else {
            throw Error("larger than \(limits.maxBytes >> 20) MiB (\(bytes.count) bytes)")
        }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw Error("libyaml could not start (out of memory)") }
        defer { yaml_parser_delete(&parser) }
        let result: Result<JSONValue, Error> = bytes.withUnsafeBufferPointer { buffer in
            // libyaml reads from the pointer during yaml_parser_parse only, all inside this closure.
            yaml_parser_set_input_string(&parser, buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!, buffer.count)
            var builder = Builder(limits: limits)
            do {
                while true {
                    var event = yaml_event_t()
                    guard yaml_parser_parse(&parser, &event) == 1 else { throw parserError(parser) }
                    defer { yaml_event_delete(&event) }
                    if try builder.handle(event) { break }
                }
                return .success(builder.document ?? .null)
            } catch let error as Error {
                return .failure(error)
            } catch {
                return .failure(Error("\(error)"))
            }
        }
        return try result.get()
    }

    private static func parserError(_ parser: yaml_parser_t) -> Error {
        let problem = parser.problem.map { String(cString: $0) } ?? "malformed YAML"
        let context = parser.context.map { " " + String(cString: $0) } ?? ""
        let mark = parser.problem_mark
        return Error("line \(mark.line + 1), column \(mark.column + 1): \(problem)\(context)")
    }

    /// Builds the value from events with an explicit stack (no recursion, whatever the depth).
    private struct Builder {
        enum Frame {
            case sequence([JSONValue], anchor: String?, nodesAtStart: Int)
            /// `merged`: what `<<` brought in; the mapping's own keys win over it, in any order.
            case mapping([String: JSONValue], key: String?, merged: [String: JSONValue], anchor: String?, nodesAtStart: Int)
        }

        let limits: Limits
        var stack: [Frame] = []
        var anchors: [String: (value: JSONValue, nodes: Int)] = [:]
        var nodes = 0
        var documents = 0
        var document: JSONValue?

        init(limits: Limits) { self.limits = limits }

        /// Handles one event; true at the end of the stream.
        mutating func handle(_ event: yaml_event_t) throws(Error) -> Bool {
            let line = event.start_mark.line + 1
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return true
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 { throw Error("line \(line): more than one YAML document") }
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
                let tag = scalar.tag.map { String(cString: $0) }
                let plain = scalar.style == YAML_PLAIN_SCALAR_STYLE && tag == nil
                // A mapping key keeps its text (`yes:` is the key "yes", `1.50:` is "1.50").
                let value = expectsKey ? .string(text) : plain ? Self.resolve(text) : Self.tagged(text, tag: tag)
                try count(1, line: line)
                try add(value, anchor: string(scalar.anchor), nodes: 1, line: line)
            case YAML_ALIAS_EVENT:
                let name = string(event.data.alias.anchor) ?? ""
                guard let target = anchors[name] else { throw Error("line \(line): unknown alias '*\(name)'") }
                try count(target.nodes, line: line)
                try add(target.value, anchor: nil, nodes: target.nodes, line: line)
            case YAML_SEQUENCE_START_EVENT:
                try open(.sequence([], anchor: string(event.data.sequence_start.anchor), nodesAtStart: nodes), line: line)
            case YAML_MAPPING_START_EVENT:
                try open(.mapping([:], key: nil, merged: [:], anchor: string(event.data.mapping_start.anchor), nodesAtStart: nodes),
                         line: line)
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = stack.popLast() else { throw Error("line \(line): unbalanced YAML events") }
                switch frame {
                case .sequence(let items, let anchor, let start):
                    try add(.array(items), anchor: anchor, nodes: nodes - start, line: line)
                case .mapping(var members, _, let merged, let anchor, let start):
                    for (key, value) in merged where members[key] == nil { members[key] = value }
                    try add(.object(members), anchor: anchor, nodes: nodes - start, line: line)
                }
            default:
                break
            }
            return false
        }

        /// Whether the next node is a mapping's key.
        private var expectsKey: Bool {
            if case .mapping(_, nil, _, _, _)? = stack.last { return true }
            return false
        }

        private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            pointer.map { String(cString: $0) }
        }

        private mutating func count(_ added: Int, line: Int) throws(Error) {
            nodes += added
            if nodes > limits.maxNodes {
                throw Error("line \(line): more than \(limits.maxNodes) nodes after expanding aliases (an alias bomb?)")
            }
        }

        private mutating func open(_ frame: Frame, line: Int) throws(Error) {
            guard stack.count < limits.maxDepth else {
                throw Error("line \(line): nested deeper than \(limits.maxDepth) levels")
            }
            try count(1, line: line)
            stack.append(frame)
        }

        /// Puts a finished node into its parent (or makes it the document) and records its anchor.
        private mutating func add(_ value: JSONValue, anchor: String?, nodes size: Int, line: Int) throws(Error) {
            if let anchor { anchors[anchor] = (value, size) }
            guard let top = stack.popLast() else {
                document = value
                return
            }
            switch top {
            case .sequence(var items, let anchor, let start):
                items.append(value)
                stack.append(.sequence(items, anchor: anchor, nodesAtStart: start))
            case .mapping(let members, nil, let merged, let anchor, let start):
                guard case .string(let key) = value.scalarKey else {
                    throw Error("line \(line): a mapping key must be a scalar")
                }
                stack.append(.mapping(members, key: key, merged: merged, anchor: anchor, nodesAtStart: start))
            case .mapping(var members, let key?, var merged, let anchor, let start):
                if key == "<<" {
                    try merge(value, into: &merged, line: line)
                } else {
                    guard members[key] == nil else { throw Error("line \(line): duplicate key '\(key.prefix(80))'") }
                    members[key] = value
                }
                stack.append(.mapping(members, key: nil, merged: merged, anchor: anchor, nodesAtStart: start))
            }
        }

        /// `<<: *base` (or `<<: [*a, *b]`): the first merged mapping that has a key gives its value.
        private func merge(_ value: JSONValue, into members: inout [String: JSONValue], line: Int) throws(Error) {
            let sources: [JSONValue]
            switch value {
            case .object: sources = [value]
            case .array(let list): sources = list
            default: throw Error("line \(line): '<<' merges a mapping or a list of mappings")
            }
            for source in sources {
                guard case .object(let extra) = source else {
                    throw Error("line \(line): '<<' merges a mapping or a list of mappings")
                }
                for (key, item) in extra where members[key] == nil { members[key] = item }
            }
        }

        /// A plain scalar by YAML 1.2's core schema (plus 1.1's yes/no/on/off).
        static func resolve(_ text: String) -> JSONValue {
            switch text {
            case "", "~", "null", "Null", "NULL": return .null
            case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return .bool(true)
            case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return .bool(false)
            default: break
            }
            if let number = integer(text) { return .int(number) }
            if isFloat(text), let number = Double(text), number.isFinite { return .double(number) }
            return .string(text)
        }

        /// A quoted or tagged scalar: a string unless a standard tag says otherwise.
        static func tagged(_ text: String, tag: String?) -> JSONValue {
            switch tag {
            case "tag:yaml.org,2002:null": return .null
            case "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float":
                let value = resolve(text)
                if case .string = value { return .string(text) }
                return value
            default: return .string(text)
            }
        }

        static func integer(_ text: String) -> Int64? {
            var digits = Substring(text)
            var negative = false
            if let sign = digits.first, sign == "-" || sign == "+" {
                negative = sign == "-"
                digits = digits.dropFirst()
            }
            var radix = 10
            if digits.hasPrefix("0x") { radix = 16; digits = digits.dropFirst(2) }
            else if digits.hasPrefix("0o") { radix = 8; digits = digits.dropFirst(2) }
            guard !digits.isEmpty, let magnitude = UInt64(digits, radix: radix) else { return nil }
            if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil }
            return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
        }

        /// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
        static func isFloat(_ text: String) -> Bool {
            var bytes = Substring(text).utf8[...]
            func digits() -> Int {
                let run = bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }.count
                bytes = bytes.dropFirst(run)
                return run
            }
            if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
            var mantissa = digits()
            if bytes.first == UInt8(ascii: ".") {
                bytes = bytes.dropFirst()
                mantissa += digits()
            }
            guard mantissa > 0 else { return false }
            if bytes.first == UInt8(ascii: "e") || bytes.first == UInt8(ascii: "E") {
                bytes = bytes.dropFirst()
                if bytes.first == UInt8(ascii: "-") || bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
                guard digits() > 0 else { return false }
            }
            return bytes.isEmpty
        }
    }
}

private extension JSONValue {
    /// A scalar as a mapping key's text (`1: x` has the key "1"); nil for collections.
    var scalarKey: JSONValue? {
        switch self {
        case .string: return self
        case .null: return .string("")
        case .bool(let b): return .string(b ? "true" : "false")
        case .int(let i): return .string(String(i))
        case .double(let d): return .string(String(d))
        case .array, .object: return nil
        }
    }
}
