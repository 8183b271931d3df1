/// Which differences between a recorded and a current environment matter, and how much.
///
/// A policy is a list of rules tried in order (the first whose pattern matches a change's path
/// decides), then a default. File form (JSON or YAML; schema `Schemas/policy-1.0.0.schema.json`):
/// ```json
/// {"policy": "mine", "description": "…",
///  "rules": [{"path": "gpu.nvidia.cudaDriverVersion", "rule": "at-least", "severity": "error"},
///            {"path": "**.serial", "rule": "ignore"}],
///  "default": {"rule": "equal", "severity": "warning"}}
/// ```
public struct Policy: Sendable, Equatable {
    public enum Rule: String, Sendable, Equatable, CaseIterable {
        /// Never a violation.
        case ignore
        /// The current value must equal the recorded one.
        case equal
        /// Versions must have the same major number.
        case sameMajor = "same-major"
        /// Versions must have the same major and minor numbers.
        case sameMinor = "same-minor"
        /// The current version must be at least the recorded one.
        case atLeast = "at-least"
        /// Everything recorded must still be there (a set may gain members, not lose them).
        case subset
    }

    public enum Severity: String, Sendable, Equatable, CaseIterable {
        case error, warning
    }

    public struct Entry: Sendable, Equatable {
        public var pattern: PathPattern
        public var rule: Rule
        public var severity: Severity
        public init(_ pattern: String, _ rule: Rule, _ severity: Severity = .error) {
            self.pattern = PathPattern(pattern)
            self.rule = rule
            self.severity = severity
        }
    }

    public var name: String
    public var description: String
    public var rules: [Entry]
    public var fallback: Entry

    public init(name: String, description: String, rules: [Entry], fallback: Entry) {
        self.name = name
        self.description = description
        self.rules = rules
        self.fallback = fallback
    }

    /// The rule that decides for a path.
    public func entry(for path: String) -> Entry {
        // In place: `first(where:)` copied every rule it tried (a retain and release of each of
        // its arrays, 40% of a verify with 500,000 changes).
        let first = rules.withUnsafeBufferPointer { rules in rules.indices.first { rules[$0].pattern.matches(path) } }
        return first.map { rules[$0] } ?? fallback
    }

    /// The changes that break a rule, errors first.
    public func violations(in diff: ManifestDiff) -> [Violation] {
        var result: [Violation] = []
        let index = PathPatternIndex(rules.map(\.pattern))
        for change in diff.changes {
            let entry = index.firstMatch(change.path).map { rules[$0] } ?? fallback
            if let reason = Policy.breaks(entry.rule, change) {
                result.append(Violation(change: change, rule: entry.rule, pattern: entry.pattern.text,
                                        severity: entry.severity, reason: reason))
            } else if entry.rule == .subset, change.kind == .added, entry.severity == .error {
                // Gained, which subset allows: reported as a warning (a package installed since).
                result.append(Violation(change: change, rule: entry.rule, pattern: entry.pattern.text,
                                        severity: .warning, reason: "not recorded, present now (allowed)"))
            }
        }
        return result.sorted { ($0.severity == .error ? 0 : 1) < ($1.severity == .error ? 0 : 1) }
    }

    /// Why a change breaks a rule, or nil when it does not. `old` is the recorded value,
    /// `new` the current one.
    static func breaks(_ rule: Rule, _ change: ManifestDiff.Change) -> String? {
        switch rule {
        case .ignore:
            return nil
        case .equal:
            switch change.kind {
            case .added: return "not recorded, present now"
            case .removed: return "recorded, missing now"
            case .changed: return "differs from the recorded value"
            }
        case .subset:
            if change.kind == .added { return nil }
            if change.kind == .removed { return "recorded, missing now" }
            if let lost = change.lost {
                return lost.isEmpty ? nil : "lost \(lost.count) recorded value\(lost.count == 1 ? "" : "s"): "
                    + lost.prefix(8).map { $0.stringValue ?? CanonicalJSON.string($0) }.joined(separator: ", ")
            }
            return "differs from the recorded value"
        case .sameMajor, .sameMinor, .atLeast:
            if change.kind == .added { return nil }
            if change.kind == .removed { return "recorded, missing now" }
            guard let oldText = change.old?.stringValue ?? change.old.flatMap({ $0.intValue.map(String.init) }),
                  let newText = change.new?.stringValue ?? change.new.flatMap({ $0.intValue.map(String.init) }),
                  let old = Version(oldText), let new = Version(newText)
            else { return "not comparable as versions" }
            switch rule {
            case .sameMajor: return old.major == new.major ? nil : "major version changed"
            case .sameMinor:
                return old.major == new.major && old.minor == new.minor ? nil : "major or minor version changed"
            default: return new >= old ? nil : "older than the recorded version"
            }
        }
    }
}

/// A change that breaks a policy rule.
public struct Violation: Sendable, Equatable {
    public var change: ManifestDiff.Change
    public var rule: Policy.Rule
    /// The rule's path pattern (`default` for the policy's default).
    public var pattern: String
    public var severity: Policy.Severity
    public var reason: String
    /// What to run or do to remove the difference, where provenance knows (`Reproduction.fix`).
    public var fix: String?

    public init(change: ManifestDiff.Change, rule: Policy.Rule, pattern: String, severity: Policy.Severity, reason: String,
                fix: String? = nil)
    {
        self.change = change
        self.rule = rule
        self.pattern = pattern
        self.severity = severity
        self.reason = reason
        self.fix = fix
    }
}

/// A policy file that cannot be used.
public struct PolicyError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Policy {
    /// The most rules a policy file may hold: the rules are tried in order for every change, so
    /// a policy of 500,000 rules took over 30 s on a 1,000-change diff.
    public static let maxRules = 10_000
    /// The longest path pattern, in UTF-8 bytes (real ones are under 100).
    public static let maxPatternBytes = 1_024

    /// Reads a policy document (already parsed from JSON or YAML).
    public init(json: JSONValue) throws(PolicyError) {
        guard case .object(let object) = json else { throw PolicyError("a policy is an object") }
        for key in object.keys where !["policy", "description", "rules", "default"].contains(key) {
            throw PolicyError("unknown key \"\(key)\" (expected policy, description, rules, default)")
        }
        func entry(_ value: JSONValue, _ place: String, pattern: String? = nil) throws(PolicyError) -> Entry {
            guard case .object(let fields) = value else { throw PolicyError("\(place): a rule is an object") }
            for key in fields.keys where !["path", "rule", "severity"].contains(key) {
                throw PolicyError("\(place): unknown key \"\(key)\"")
            }
            let path = pattern ?? fields["path"]?.stringValue
            guard let path, !path.isEmpty else { throw PolicyError("\(place): \"path\" must be a non-empty string") }
            guard path.utf8.count <= Policy.maxPatternBytes else {
                throw PolicyError("\(place): \"path\" is \(path.utf8.count) bytes long (at most \(Policy.maxPatternBytes))")
            }
            guard let ruleName = fields["rule"]?.stringValue, let rule = Rule(rawValue: ruleName) else {
                let names = Rule.allCases.map(\.rawValue).joined(separator: ", ")
                throw PolicyError("\(place): \"rule\" must be one of \(names)")
            }
            var severity = Severity.error
            if let value = fields["severity"] {
                guard let name = value.stringValue, let parsed = Severity(rawValue: name) else {
                    throw PolicyError("\(place): \"severity\" must be error or warning")
                }
                severity = parsed
            }
            return Entry(path, rule, severity)
        }
        var rules: [Entry] = []
        if let list = object["rules"] {
            guard case .array(let items) = list else { throw PolicyError("\"rules\" must be an array") }
            guard items.count <= Policy.maxRules else {
                throw PolicyError("\(items.count) rules (a policy has at most \(Policy.maxRules))")
            }
            for (index, item) in items.enumerated() { rules.append(try entry(item, "rules[\(index)]")) }
        }
        var fallback = Entry("default", .ignore, .error)
        if let value = object["default"] { fallback = try entry(value, "default", pattern: "default") }
        self.init(name: object["policy"]?.stringValue ?? "custom", description: object["description"]?.stringValue ?? "",
                  rules: rules, fallback: fallback)
    }

    /// The policy as a document (what `provenance policy show` prints).
    public var json: JSONValue {
        func fields(_ entry: Entry, withPath: Bool) -> JSONValue {
            var object: [String: JSONValue] = ["rule": .string(entry.rule.rawValue), "severity": .string(entry.severity.rawValue)]
            if withPath { object["path"] = .string(entry.pattern.text) }
            return .object(object)
        }
        return ["policy": .string(name), "description": .string(description),
                "rules": .array(rules.map { fields($0, withPath: true) }), "default": fields(fallback, withPath: false)]
    }
}
