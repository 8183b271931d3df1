/// What changed between two manifests, field by field, with paths that name the thing.
///
/// Only what describes the environment is compared: each section's `status` and `data`.
/// Capture time, durations, host name, issue texts and `volatile` parts are ignored. Arrays of
/// records are matched by identity (`ListIdentity`, from the section models), arrays of plain values as sets, so a
/// reordered list is no change and a GPU is followed by its bus id, not its position.
public struct ManifestDiff: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, Codable {
        /// Present in the new manifest only.
        case added
        /// Present in the old manifest only.
        case removed
        /// Present in both with different values.
        case changed
    }

    public struct Change: Sendable, Equatable {
        /// The section id (`gpu.nvidia`).
        public var section: String
        /// `section.field.sub[identity].field`; `section.status` for the status.
        public var path: String
        public var kind: Kind
        public var old: JSONValue?
        public var new: JSONValue?
        /// For sets of plain values (`cpu.flags`): what the new one gained and lost.
        public var gained: [JSONValue]?
        public var lost: [JSONValue]?

        public init(section: String, path: String, kind: Kind, old: JSONValue? = nil, new: JSONValue? = nil,
                    gained: [JSONValue]? = nil, lost: [JSONValue]? = nil)
        {
            self.section = section
            self.path = path
            self.kind = kind
            self.old = old
            self.new = new
            self.gained = gained
            self.lost = lost
        }
    }

    public var changes: [Change]

    /// Record fields that identify an element of an array in a site probe's section (built-in
    /// sections name them as their model says): `ListIdentity`.
    public static var identityKeys: [String] { ListIdentity.genericKeys }

    /// Compares two manifests (already checked with `ManifestReader`).
    public init(old: JSONValue, new: JSONValue) {
        var changes: [Change] = []
        let oldSections = old["sections"]?.objectValue ?? [:]
        let newSections = new["sections"]?.objectValue ?? [:]
        for id in Set(oldSections.keys).union(newSections.keys).sorted() {
            let a = oldSections[id]
            let b = newSections[id]
            // A probe that was not run on either side says nothing about the environment.
            if a?["status"] == "skipped" || b?["status"] == "skipped" { continue }
            var differ = Differ(section: id)
            differ.compare(id + ".status", "", a?["status"], b?["status"])
            differ.compare(id, "", a?["data"], b?["data"])
            changes += differ.changes
        }
        // Reports print these values: a manifest from elsewhere may hold unmasked secrets.
        self.changes = changes.map(Self.masked)
    }

    /// A change with secret-looking values masked (`Secrets.maskJSON`); by name too in the
    /// sections whose keys are free names (environment variables, parameters, labels).
    static func masked(_ change: Change) -> Change {
        var change = change
        let byName = ["environment", "run", "scheduler", "container"].contains(change.section)
        let name = byName ? String(change.path.split(separator: ".").last ?? "") : ""
        change.old = change.old.map { Secrets.maskJSON($0, name: name) }
        change.new = change.new.map { Secrets.maskJSON($0, name: name) }
        change.gained = change.gained?.map { Secrets.maskJSON($0, name: name) }
        change.lost = change.lost?.map { Secrets.maskJSON($0, name: name) }
        return change
    }

    public var isEmpty: Bool { changes.isEmpty }
}

private struct Differ {
    let section: String
    var changes: [ManifestDiff.Change] = []

    /// `shape`: the path inside the section's data without element names (`ListIdentity`).
    mutating func compare(_ path: String, _ shape: String, _ old: JSONValue?, _ new: JSONValue?) {
        if old == new { return }
        switch (old, new) {
        case (nil, let value?):
            changes.append(.init(section: section, path: path, kind: .added, old: nil, new: value))
        case (let value?, nil):
            changes.append(.init(section: section, path: path, kind: .removed, old: value, new: nil))
        case (.object(let a)?, .object(let b)?):
            for key in Set(a.keys).union(b.keys).sorted() {
                compare(path + "." + key, ListIdentity.member(shape, key), a[key], b[key])
            }
        case (.array(let a)?, .array(let b)?):
            compareArrays(path, shape, a, b)
        default:
            changes.append(.init(section: section, path: path, kind: .changed, old: old, new: new))
        }
    }

    mutating func compareArrays(_ path: String, _ shape: String, _ a: [JSONValue], _ b: [JSONValue]) {
        let isPlain: (JSONValue) -> Bool = {
            if case .object = $0 { return false }
            if case .array = $0 { return false }
            return true
        }
        if a.allSatisfy(isPlain) && b.allSatisfy(isPlain) {
            let inA = Set(a)
            let inB = Set(b)
            let gained = b.filter { !inA.contains($0) }
            let lost = a.filter { !inB.contains($0) }
            if gained.isEmpty && lost.isEmpty { return }
            changes.append(.init(section: section, path: path, kind: .changed, old: .array(a), new: .array(b),
                                 gained: gained, lost: lost))
            return
        }
        let elementShape = shape + "[]"
        if let key = ListIdentity.key(section: section, shape: shape, a, b) {
            var right: [String: JSONValue] = [:]
            right.reserveCapacity(b.count)
            for element in b { right[identity(element[key]!)] = element }
            var seen = Set<String>()
            seen.reserveCapacity(a.count)
            // Old elements in their (sorted) order, then the new ones: a stable, readable order
            // without sorting every identity.
            for element in a {
                let id = identity(element[key]!)
                seen.insert(id)
                let other = right[id]
                if other != element { compare("\(path)[\(id)]", elementShape, element, other) }
            }
            for element in b {
                let id = identity(element[key]!)
                if !seen.contains(id) { compare("\(path)[\(id)]", elementShape, nil, element) }
            }
            return
        }
        // No identity: compare by position.
        for position in 0..<max(a.count, b.count) {
            let old = position < a.count ? a[position] : nil
            let new = position < b.count ? b[position] : nil
            if old != new { compare("\(path)[\(position)]", elementShape, old, new) }
        }
    }

    func identity(_ value: JSONValue) -> String { ListIdentity.name(value) }
}
