/// What changed between two manifests, field by field, with paths that name the thing.
///
/// Only what describes the environment is compared: each section's `status` and `data`.
/// Capture time, durations, host name, issue texts and `volatile` parts are ignored. Arrays of
/// records are matched by identity (see `identityKeys`), arrays of plain values as sets, so a
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
    }

    public var changes: [Change]

    /// Record fields that identify an element of an array, most specific first: a PCI address
    /// survives a move to another machine better than a serial-like UUID.
    public static let identityKeys = [
        "slot", "pciBusIdNormalized", "pciBusId", "uuid", "path", "name", "id", "card", "key", "level",
    ]

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
            differ.compare(id + ".status", a?["status"], b?["status"])
            differ.compare(id, a?["data"], b?["data"])
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

    mutating func compare(_ path: String, _ old: JSONValue?, _ new: JSONValue?) {
        if old == new { return }
        switch (old, new) {
        case (nil, let value?):
            changes.append(.init(section: section, path: path, kind: .added, old: nil, new: value))
        case (let value?, nil):
            changes.append(.init(section: section, path: path, kind: .removed, old: value, new: nil))
        case (.object(let a)?, .object(let b)?):
            for key in Set(a.keys).union(b.keys).sorted() {
                compare(path + "." + key, a[key], b[key])
            }
        case (.array(let a)?, .array(let b)?):
            compareArrays(path, a, b)
        default:
            changes.append(.init(section: section, path: path, kind: .changed, old: old, new: new))
        }
    }

    mutating func compareArrays(_ path: String, _ a: [JSONValue], _ b: [JSONValue]) {
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
        if let key = identityKey(a, b) {
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
                if other != element { compare("\(path)[\(id)]", element, other) }
            }
            for element in b {
                let id = identity(element[key]!)
                if !seen.contains(id) { compare("\(path)[\(id)]", nil, element) }
            }
            return
        }
        // No identity: compare by position.
        for position in 0..<max(a.count, b.count) {
            let old = position < a.count ? a[position] : nil
            let new = position < b.count ? b[position] : nil
            if old != new { compare("\(path)[\(position)]", old, new) }
        }
    }

    /// The first identity key every element of both arrays has, with unique values on each side.
    func identityKey(_ a: [JSONValue], _ b: [JSONValue]) -> String? {
        ManifestDiff.identityKeys.first { key in
            for list in [a, b] {
                var seen = Set<String>()
                for element in list {
                    guard let value = element[key], case .string = value, seen.insert(identity(value)).inserted
                    else {
                        guard let value = element[key], case .int = value, seen.insert(identity(value)).inserted
                        else { return false }
                        continue
                    }
                }
            }
            return true
        }
    }

    func identity(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .int(let i): return String(i)
        default: return CanonicalJSON.string(value)
        }
    }
}
