/// Drift across many manifests (one per node): which nodes share an environment, and for every
/// field that differs the majority value, the outliers and the distribution.
///
/// Streaming: `add` each manifest once and drop it. What is kept is bounded by the number of
/// *distinct* section contents, not by the number of nodes: per section, each distinct content
/// (after leaving out the ignored fields) is flattened once into `path → value` leaves and holds the
/// list of nodes that have it (4 bytes a node). Per-path value tables are built from these in
/// `finish()`, where node lists are expanded only for the fields that differ.
///
/// Paths are ManifestDiff's (`section.field[identity].field`, `section.status`): records in arrays
/// are keyed by identity, plain arrays are one value compared as a set. A section `skipped` on a
/// node says nothing about its data (only `section.status` differs); a section missing from a
/// manifest makes its fields "absent".
public struct AuditBuilder: Sendable {
    /// Which fields matter: those whose rule is not `ignore`.
    public let policy: Policy
    /// Node names (host name, else file name) in the order they were added.
    public private(set) var names: [String] = []
    /// For `--compare`: which side (0 = A, 1 = B) each node belongs to.
    private var sides: [UInt8] = []
    private var sections: [String: SectionTable] = [:]
    private var groups: [String: [Int32]] = [:]
    private var groupOrder: [String] = []

    /// Fields that name a machine or a device rather than describe its environment, ignored by
    /// default (the `strict` policy: everything else matters).
    public static let defaultPolicy = Policy.strict

    public init(policy: Policy = AuditBuilder.defaultPolicy) {
        self.policy = policy
    }

    /// The number of manifests added.
    public var count: Int { names.count }

    /// Adds one manifest (already checked with `ManifestReader`). `fallbackName` names the node when
    /// the manifest has no `hostName` (the file name). `side` is 0 or 1 in a two-group comparison.
    public mutating func add(_ manifest: JSONValue, fallbackName: String, side: UInt8 = 0) {
        let node = Int32(names.count)
        let host = manifest["hostName"]?.stringValue
        names.append(host.map { $0.isEmpty ? fallbackName : $0 } ?? fallbackName)
        sides.append(side)
        var key: [UInt8] = []
        let manifestSections = manifest["sections"]?.objectValue ?? [:]
        for id in manifestSections.keys.sorted() {
            let section = manifestSections[id]!
            if sections[id] == nil {
                // Nodes added before this section first appeared lack it: they count as "absent".
                sections[id] = SectionTable(id: id)
            }
            let skipped = section["status"] == "skipped"
            // A skipped probe says nothing about the section's data; only its status is compared
            // (so every split between groups shows as a difference).
            if skipped { sections[id]!.skipped.append(node) }
            let hash = sections[id]!.add(skipped ? ["status": "skipped"] : section, node: node, policy: policy)
            key += Array(id.utf8) + [0] + hash + [0]
        }
        let group = Manifest.sha256(key)
        if groups[group] == nil { groupOrder.append(group) }
        groups[group, default: []].append(node)
    }

    /// Adds one manifest from its bytes: the fast path. The envelope and section structure are
    /// checked as `ManifestReader` does; a section's data is parsed only when these exact bytes
    /// were not seen before (a fleet repeats the same sections over and over).
    public mutating func add(bytes: [UInt8], fallbackName: String, ignoreHostName: Bool = false,
                             side: UInt8 = 0) throws(ManifestReader.Error) {
        let scanned = try ManifestScanner.scan(bytes)
        guard let version = scanned.schemaVersion else {
            throw ManifestReader.Error(description: "not a manifest: no \"schemaVersion\" string")
        }
        _ = try ManifestReader.check(["schemaVersion": version, "sections": [:]])
        guard scanned.hasSections else { throw ManifestReader.Error(description: "not a manifest: no \"sections\" object") }
        // Parse every new section first, so a bad manifest adds nothing.
        var prepared: [(id: String, key: RawKey, hit: (Int, [UInt8])?, parsed: JSONValue?)] = []
        for section in scanned.sections.sorted(by: { $0.id < $1.id }) {
            let status = section.status ?? .null
            let data = status == "skipped" ? [] : section.data.map { Array(bytes[$0]) } ?? []
            var parsed: JSONValue?
            let key = RawKey(status: status, data: data)
            let hit = sections[section.id]?.rawBytes[key]
            if !data.isEmpty, hit == nil {
                do {
                    parsed = try JSONParser.parse(data)
                } catch {
                    throw ManifestReader.Error(description: "not a manifest: section \"\(section.id.prefix(60))\": \(error)")
                }
            }
            prepared.append((section.id, key, hit, parsed))
        }
        let node = Int32(names.count)
        let host = ignoreHostName ? nil : scanned.hostName?.stringValue
        names.append(host.map { $0.isEmpty ? fallbackName : $0 } ?? fallbackName)
        sides.append(side)
        var key: [UInt8] = []
        for section in prepared {
            let id = section.id
            if sections[id] == nil { sections[id] = SectionTable(id: id) }
            let skipped = section.key.status == "skipped"
            if skipped { sections[id]!.skipped.append(node) }
            let hash: [UInt8]
            if let (index, known) = section.hit {
                sections[id]!.contents[index].nodes.append(node)
                hash = known
            } else {
                hash = sections[id]!.add(rawStatus: section.key.status, data: skipped ? [] : section.key.data,
                                         parsed: section.parsed, node: node, policy: policy)
            }
            key += Array(id.utf8) + [0] + hash + [0]
        }
        let group = Manifest.sha256(key)
        if groups[group] == nil { groupOrder.append(group) }
        groups[group, default: []].append(node)
    }

    /// Builds the report. In a comparison (nodes added with side 0 and 1), only the fields whose
    /// value distribution differs between the two sides are reported.
    public func finish(compare: Bool = false) -> AuditReport {
        let total = names.count
        var differences: [AuditReport.Difference] = []
        for id in sections.keys.sorted(by: { (DiffReport.rank($0), $0) < (DiffReport.rank($1), $1) }) {
            differences += sections[id]!.differences(names: names, sides: sides, total: total, compare: compare)
        }
        let sideCounts = compare ? [sides.filter { $0 == 0 }.count, sides.filter { $0 == 1 }.count] : nil
        let groupList = groupOrder.map { key in
            AuditReport.Group(fingerprint: key, nodes: groups[key]!.map { names[Int($0)] })
        }.sorted { $0.nodes.count > $1.nodes.count }
        return AuditReport(nodeCount: total, policy: policy.name, groups: groupList, differences: differences,
                           sideCounts: sideCounts)
    }
}

/// One section across all nodes: its distinct contents and who has each.
private struct SectionTable: Sendable {
    struct Content: Sendable {
        var leaves: [(path: String, value: JSONValue)]
        var nodes: [Int32] = []
    }

    let id: String
    var contents: [Content] = []
    /// Filtered-content hash → index in `contents`.
    var byHash: [[UInt8]: Int] = [:]
    /// Raw section → (index in `contents`, hash): saves flattening identical sections again.
    /// Bounded: once full, sections are flattened each time (a per-node serial makes every raw section
    /// distinct, yet the filtered contents stay few).
    var raw: [JSONValue: (Int, [UInt8])] = [:]
    static let rawCacheLimit = 512
    /// The same, keyed by the exact bytes of status and data (the fast path), at most
    /// `rawBytesLimit` bytes of keys.
    var rawBytes: [RawKey: (Int, [UInt8])] = [:]
    var rawBytesHeld = 0
    static let rawBytesLimit = 64 << 20
    var skipped: [Int32] = []
    /// Keeps which paths matter between contents (pattern matching is the costly part).
    var flattener: Flattener?

    /// Records the node's content given as bytes; returns its hash.
    mutating func add(rawStatus: JSONValue, data: [UInt8], parsed: JSONValue?, node: Int32, policy: Policy) -> [UInt8] {
        // The caller looked these bytes up already: they are new.
        let key = RawKey(status: rawStatus, data: data)
        // Parsed (and so checked) by the caller when the bytes were new.
        let value = data.isEmpty ? nil : (parsed ?? (try? JSONParser.parse(data)))
        var section: [String: JSONValue] = ["status": rawStatus]
        if let value { section["data"] = value }
        let hash = add(.object(section), node: node, policy: policy, rawCache: false)
        if rawBytesHeld + data.count <= SectionTable.rawBytesLimit {
            rawBytes[key] = (byHash[hash]!, hash)
            rawBytesHeld += data.count
        }
        return hash
    }

    init(id: String) { self.id = id }

    /// Records the node's content; returns its hash.
    mutating func add(_ section: JSONValue, node: Int32, policy: Policy, rawCache: Bool = true) -> [UInt8] {
        // Only status and data describe the environment (not durations or issue texts).
        let key: JSONValue = rawCache ? .array([section["status"] ?? .null, section["data"] ?? .null]) : .null
        if rawCache, let (index, hash) = raw[key] {
            contents[index].nodes.append(node)
            return hash
        }
        var leaves: [(path: String, value: JSONValue)] = []
        if flattener == nil { flattener = Flattener(policy: policy) }
        flattener!.leaf(id + ".status", section["status"] ?? .null, into: &leaves)
        if let data = section["data"] { flattener!.walk(id, data, into: &leaves) }
        var serialized: [UInt8] = []
        for leaf in leaves {
            serialized += Array(leaf.path.utf8) + [0] + CanonicalJSON.serialize(leaf.value) + [0]
        }
        let hash = Array(Manifest.sha256(serialized).utf8)
        let index: Int
        if let existing = byHash[hash] {
            index = existing
        } else {
            index = contents.count
            contents.append(Content(leaves: leaves))
            byHash[hash] = index
        }
        contents[index].nodes.append(node)
        if rawCache && raw.count < SectionTable.rawCacheLimit { raw[key] = (index, hash) }
        return hash
    }

    func differences(names: [String], sides: [UInt8], total: Int, compare: Bool) -> [AuditReport.Difference] {
        // Nodes that say something about this section: all but those where it was skipped.
        let considered = total - skipped.count
        // path → value → contents holding it (small: bounded by distinct contents).
        var table: [String: [JSONValue: [Int]]] = [:]
        var order: [String] = []
        for (index, content) in contents.enumerated() {
            for leaf in content.leaves {
                if table[leaf.path] == nil { order.append(leaf.path) }
                table[leaf.path, default: [:]][leaf.value, default: []].append(index)
            }
        }
        var result: [AuditReport.Difference] = []
        for path in order.sorted() {
            let values = table[path]!
            let present = values.values.reduce(0) { sum, list in sum + list.reduce(0) { $0 + contents[$1].nodes.count } }
            let isStatus = path == id + ".status"
            if values.count == 1 && present == (isStatus ? total : considered) { continue }
            // Differs: expand the node lists.
            var shares: [AuditReport.Share] = []
            var has = [Bool](repeating: false, count: total)
            for (value, indices) in values {
                var nodes: [Int32] = []
                for index in indices { nodes += contents[index].nodes }
                for node in nodes { has[Int(node)] = true }
                shares.append(AuditReport.Share(value: value, nodes: nodes.sorted().map { names[Int($0)] },
                                                 sideCounts: compare ? counts(nodes, sides) : nil))
            }
            if present < (isStatus ? total : considered) {
                if !isStatus { for node in skipped { has[Int(node)] = true } }
                let absent = (0..<Int32(total)).filter { !has[Int($0)] }
                shares.append(AuditReport.Share(value: nil, nodes: absent.map { names[Int($0)] },
                                                 sideCounts: compare ? counts(absent, sides) : nil))
            }
            shares.sort { a, b in
                a.nodes.count != b.nodes.count ? a.nodes.count > b.nodes.count
                    : DiffReport.short(a.value, limit: 1000) < DiffReport.short(b.value, limit: 1000)
            }
            if compare && !distributionsDiffer(shares) { continue }
            result.append(AuditReport.Difference(section: id, path: path, shares: shares))
        }
        return result
    }

    private func counts(_ nodes: [Int32], _ sides: [UInt8]) -> [Int] {
        var result = [0, 0]
        for node in nodes { result[Int(sides[Int(node)])] += 1 }
        return result
    }

    /// Whether some value's share of its side differs between A and B.
    private func distributionsDiffer(_ shares: [AuditReport.Share]) -> Bool {
        let totalA = shares.reduce(0) { $0 + $1.sideCounts![0] }
        let totalB = shares.reduce(0) { $0 + $1.sideCounts![1] }
        return shares.contains { $0.sideCounts![0] * totalB != $0.sideCounts![1] * totalA }
    }
}

/// A section's status and the exact bytes of its data.
struct RawKey: Hashable, Sendable {
    var status: JSONValue
    var data: [UInt8]

    /// The length and the first and last 2 KiB, in bulk (`[UInt8]`'s own hashing feeds every
    /// byte one at a time). Equality still compares every byte.
    func hash(into hasher: inout Hasher) {
        hasher.combine(status)
        hasher.combine(data.count)
        data.withUnsafeBytes { bytes in
            let edge = 2048
            if bytes.count <= 2 * edge {
                hasher.combine(bytes: bytes)
            } else {
                hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: bytes[..<edge]))
                hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - edge)...]))
            }
        }
    }
}

/// Turns section data into `path → value` leaves, ManifestDiff's way, leaving out ignored fields.
struct Flattener {
    let policy: Policy
    /// Patterns decided per path are cached: the same paths recur on every distinct content.
    var decided: [String: Bool] = [:]

    init(policy: Policy) { self.policy = policy }

    mutating func matters(_ path: String) -> Bool {
        if let known = decided[path] { return known }
        let result = policy.entry(for: path).rule != .ignore
        decided[path] = result
        return result
    }

    mutating func leaf(_ path: String, _ value: JSONValue, into leaves: inout [(path: String, value: JSONValue)]) {
        if matters(path) { leaves.append((path, value)) }
    }

    mutating func walk(_ path: String, _ value: JSONValue, into leaves: inout [(path: String, value: JSONValue)]) {
        switch value {
        case .object(let members):
            // An empty object has no fields to differ in (`{}` and `{"A": 1}` differ in `.A` only).
            for key in members.keys.sorted() { walk(path + "." + key, members[key]!, into: &leaves) }
        case .array(let elements) where !elements.isEmpty:
            let plain = elements.allSatisfy {
                if case .object = $0 { return false }; if case .array = $0 { return false }; return true
            }
            if plain {
                // A set: sorted and without repeats, so order never makes a difference.
                var seen = Set<JSONValue>()
                let unique = elements.filter { seen.insert($0).inserted }
                    .sorted { CanonicalJSON.string($0) < CanonicalJSON.string($1) }
                leaf(path, .array(unique), into: &leaves)
            } else if let key = Flattener.identityKey(elements) {
                for element in elements {
                    let id = element[key]!.stringValue ?? String(element[key]!.intValue ?? 0)
                    walk("\(path)[\(id)]", element, into: &leaves)
                }
            } else {
                for (position, element) in elements.enumerated() { walk("\(path)[\(position)]", element, into: &leaves) }
            }
        default:
            leaf(path, value, into: &leaves)
        }
    }

    /// The first of ManifestDiff's identity keys every element has, as a string or an integer,
    /// with unique values.
    static func identityKey(_ elements: [JSONValue]) -> String? {
        ManifestDiff.identityKeys.first { key in
            var seen = Set<JSONValue>()
            for element in elements {
                guard let value = element[key] else { return false }
                switch value {
                case .string, .int: if !seen.insert(value).inserted { return false }
                default: return false
                }
            }
            return true
        }
    }
}

/// What an audit found.
public struct AuditReport: Sendable, Equatable {
    /// Nodes whose considered fields are all equal.
    public struct Group: Sendable, Equatable {
        /// `sha256:` over the node's considered fields (ignored fields left out, unlike the
        /// manifest's own fingerprint, which covers serial numbers).
        public var fingerprint: String
        public var nodes: [String]
    }

    /// One value of a field and the nodes that have it (`value` nil: the field is absent there).
    public struct Share: Sendable, Equatable {
        public var value: JSONValue?
        public var nodes: [String]
        /// In a comparison: how many of these nodes are in A and in B.
        public var sideCounts: [Int]?
    }

    /// A field that does not have the same value everywhere.
    public struct Difference: Sendable, Equatable {
        public var section: String
        public var path: String
        /// Most common first: `shares[0]` is the majority, the others are the outliers.
        public var shares: [Share]
        public var majority: Share { shares[0] }
        public var outliers: ArraySlice<Share> { shares.dropFirst() }
    }

    public var nodeCount: Int
    public var policy: String
    public var groups: [Group]
    public var differences: [Difference]
    /// In a comparison: the number of nodes in A and in B.
    public var sideCounts: [Int]?

    /// Whether all nodes agree (or, in a comparison, both groups have the same distributions).
    public var agrees: Bool { differences.isEmpty }
}
