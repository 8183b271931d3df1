import Crypto

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
    /// Per node: the scheduler's node name and the file path, to tell apart nodes sharing a name.
    private var nodeDetails: [(scheduler: String?, path: String?)] = []
    /// One table per section id, in the order the ids were first seen.
    private var tables: [SectionTable] = []
    private var tableIndex: [String: Int] = [:]
    /// Groups of nodes by their key: (table, content) index pairs in section id order.
    private var groupIndex: [[Int32]: Int] = [:]
    private var groups: [(key: [Int32], nodes: [Int32])] = []
    /// Per section, the data last seen (see `ManifestScanner`).
    private var templates: [String: Template] = [:]
    /// The field names cut out of section data before looking it up (see `cutNames(for:)`).
    private let cutNames: [[UInt8]]
    private let cutNameSet: Set<String>

    /// Fields that name a machine or a device rather than describe its environment, ignored by
    /// default (the `strict` policy: everything else matters).
    public static let defaultPolicy = Policy.strict

    public init(policy: Policy = AuditBuilder.defaultPolicy) {
        self.policy = policy
        let names = AuditBuilder.cutNames(for: policy)
        cutNames = names.map { Array($0.utf8) }
        cutNameSet = Set(names)
    }

    /// Field names whose values the policy ignores wherever they are (`**.serial`, `**.uuid`):
    /// data that differs only in them is looked up as the same bytes, with those values left out.
    /// Whether leaving a value out is right is checked on each new content (a rule before may make
    /// `cpu.serial` matter; a `uuid` may be what names a list's elements): see
    /// `Flattener.cutMatters`.
    static func cutNames(for policy: Policy) -> [String] {
        policy.rules.compactMap { entry in
            guard entry.rule == .ignore, entry.pattern.text.hasPrefix("**.") else { return nil }
            let name = String(entry.pattern.text.dropFirst(3))
            guard !name.isEmpty, !name.contains(where: { "*.[]\\\"".contains($0) }) else { return nil }
            return name
        }
    }

    /// The number of manifests added.
    public var count: Int { names.count }

    /// Adds one manifest (already checked with `ManifestReader`). `fallbackName` names the node when
    /// the manifest has no `hostName` (the file name). `side` is 0 or 1 in a two-group comparison.
    public mutating func add(_ manifest: JSONValue, fallbackName: String, side: UInt8 = 0) {
        let node = Int32(names.count)
        let host = manifest["hostName"]?.stringValue
        names.append(host.map { $0.isEmpty ? fallbackName : $0 } ?? fallbackName)
        let volatile = manifest["sections"]?["scheduler"]?["volatile"]
        nodeDetails.append((volatile?["slurm"]?["nodeName"]?.stringValue ?? volatile?["pbs"]?["nodeName"]?.stringValue, nil))
        sides.append(side)
        var key: [Int32] = []
        let manifestSections = manifest["sections"]?.objectValue ?? [:]
        for id in manifestSections.keys.sorted() {
            let section = manifestSections[id]!
            let table = table(id)
            let skipped = section["status"] == "skipped"
            // A skipped probe says nothing about the section's data; only its status is compared
            // (so every split between groups shows as a difference).
            if skipped { tables[table].skipped.append(node) }
            let entry = tables[table].add(skipped ? ["status": "skipped"] : section, node: node, policy: policy)
            key += [Int32(table), Int32(entry.index)]
        }
        addToGroup(node, key: key)
    }

    /// The index of the section's table, made when the section is first seen (nodes added before
    /// lack it: they count as "absent").
    private mutating func table(_ id: String) -> Int {
        if let index = tableIndex[id] { return index }
        tables.append(SectionTable(id: id))
        tableIndex[id] = tables.count - 1
        return tables.count - 1
    }

    private mutating func addToGroup(_ node: Int32, key: [Int32]) {
        if let index = groupIndex[key] {
            groups[index].nodes.append(node)
        } else {
            groupIndex[key] = groups.count
            groups.append((key, [node]))
        }
    }

    /// Adds one manifest from its bytes: the fast path. The envelope and section structure are
    /// checked as `ManifestReader` does; a section's data is parsed only when its bytes (leaving
    /// out the values of cut identity fields) were not seen before: a fleet repeats the same
    /// sections over and over.
    public mutating func add(bytes: [UInt8], fallbackName: String, ignoreHostName: Bool = false,
                             side: UInt8 = 0, path: String? = nil) throws(ManifestReader.Error) {
        try bytes.withUnsafeBufferPointer { buffer throws(ManifestReader.Error) in
            try add(bytes: buffer, fallbackName: fallbackName, ignoreHostName: ignoreHostName, side: side, path: path)
        }
    }

    /// `add(bytes:)` for bytes in a buffer the caller owns (read into it, reused for the next file).
    ///
    /// `path` (the file the bytes came from) tells nodes apart that share a host name when the
    /// scheduler section does not (see `finish`).
    public mutating func add(bytes: UnsafeBufferPointer<UInt8>, fallbackName: String, ignoreHostName: Bool = false,
                             side: UInt8 = 0, path: String? = nil) throws(ManifestReader.Error) {
        let scanned = try ManifestScanner.scan(bytes, cutNames: cutNames, templates: templates)
        guard let version = scanned.schemaVersion else {
            throw ManifestReader.Error(description: "not a manifest: no \"schemaVersion\" string")
        }
        _ = try ManifestReader.check(["schemaVersion": version, "sections": [:]])
        guard scanned.hasSections else { throw ManifestReader.Error(description: "not a manifest: no \"sections\" object") }
        // Find every section's content, parsing the new ones first, so a bad manifest adds nothing.
        var prepared: [(id: String, template: Template, matched: Bool, exact: Template?, parsed: JSONValue?)] = []
        for section in scanned.sections.sorted(by: { $0.id < $1.id }) {
            let status = section.status ?? .null
            // A skipped probe says nothing about the section's data; only its status is compared.
            let data = status == "skipped" ? nil : section.data
            if data != nil, section.matchedTemplate, let template = templates[section.id], template.status == status {
                prepared.append((section.id, template, true, nil, nil))
                continue
            }
            var template = Template(status: status, bytes: bytes, data: data, cuts: data == nil ? [] : section.cuts)
            let table = tableIndex[section.id]
            if let table, let entry = tables[table].known[template.key] {
                template.entry = entry
                prepared.append((section.id, template, false, nil, nil))
                continue
            }
            // New, or its cut values mattered: also try the exact bytes.
            var exact = template.key.cuts.isEmpty ? template : Template(status: status, bytes: bytes, data: data, cuts: [])
            if let table, let entry = tables[table].known[exact.key] {
                exact.entry = entry
                prepared.append((section.id, exact, false, nil, nil))
                continue
            }
            var parsed: JSONValue?
            if let data {
                do {
                    parsed = try JSONParser.parse(UnsafeBufferPointer(rebasing: bytes[data]))
                } catch {
                    throw ManifestReader.Error(description: "not a manifest: section \"\(section.id.prefix(60))\": \(error)")
                }
            }
            prepared.append((section.id, template, false, exact, parsed))
        }
        let node = Int32(names.count)
        let host = ignoreHostName ? nil : scanned.hostName?.stringValue
        names.append(host.map { $0.isEmpty ? fallbackName : $0 } ?? fallbackName)
        var schedulerNode: String?
        if let range = scanned.sections.first(where: { $0.id == "scheduler" })?.volatile,
           let volatile = try? JSONParser.parse(UnsafeBufferPointer(rebasing: bytes[range]))
        {
            schedulerNode = volatile["slurm"]?["nodeName"]?.stringValue ?? volatile["pbs"]?["nodeName"]?.stringValue
        }
        nodeDetails.append((schedulerNode, path))
        sides.append(side)
        var key: [Int32] = []
        key.reserveCapacity(2 * prepared.count)
        for section in prepared {
            let table = table(section.id)
            if section.template.status == "skipped" { tables[table].skipped.append(node) }
            var template = section.template
            if let exact = section.exact {
                template = tables[table].add(cut: template, exact: exact, parsed: section.parsed,
                                             node: node, policy: policy, cutNames: cutNameSet)
            } else {
                tables[table].contents[template.entry.index].nodes.append(node)
            }
            // The next node's data is matched against this one's.
            if !section.matched, !template.key.bytes.isEmpty { templates[section.id] = template }
            key += [Int32(table), Int32(template.entry.index)]
        }
        addToGroup(node, key: key)
    }

    /// The node names, made distinct where several nodes share one (all "vm" on one machine):
    /// `host/NODE` with the scheduler's node name (Slurm's `SLURMD_NODENAME`) when that tells them
    /// apart, else `host (FILE)` with the file's path, else `host #N`.
    func distinctNames() -> [String] {
        var result = names
        var byName: [String: [Int]] = [:]
        for (index, name) in names.enumerated() { byName[name, default: []].append(index) }
        for (name, indices) in byName where indices.count > 1 {
            let schedulerNames = indices.map { index in index < nodeDetails.count ? nodeDetails[index].scheduler : nil }
            if schedulerNames.allSatisfy({ $0 != nil }), Set(schedulerNames.compactMap { $0 }).count == indices.count {
                for (index, node) in zip(indices, schedulerNames) where node != name { result[index] = "\(name)/\(node!)" }
                continue
            }
            let paths = indices.map { index in index < nodeDetails.count ? nodeDetails[index].path : nil }
            if paths.allSatisfy({ $0 != nil }), Set(paths.compactMap { $0 }).count == indices.count {
                for (index, path) in zip(indices, paths) { result[index] = "\(name) (\(path!))" }
                continue
            }
            for (number, index) in indices.enumerated() { result[index] = "\(name) #\(number + 1)" }
        }
        return result
    }

    /// Builds the report. In a comparison (nodes added with side 0 and 1), only the fields whose
    /// value distribution differs between the two sides are reported.
    public func finish(compare: Bool = false) -> AuditReport {
        let names = distinctNames()
        let total = names.count
        var differences: [AuditReport.Difference] = []
        for table in tables.sorted(by: { (DiffReport.rank($0.id), $0.id) < (DiffReport.rank($1.id), $1.id) }) {
            differences += table.differences(names: names, sides: sides, total: total, compare: compare)
        }
        // Reports print these values, which come from manifests of elsewhere: secret-looking
        // ones are masked as a diff masks them.
        for index in differences.indices {
            let difference = differences[index]
            for share in difference.shares.indices {
                let change = ManifestDiff.masked(ManifestDiff.Change(
                    section: difference.section, path: difference.path, kind: .changed,
                    old: difference.shares[share].value, new: nil))
                differences[index].shares[share].value = change.old
            }
        }
        let sideCounts = compare ? [sides.filter { $0 == 0 }.count, sides.filter { $0 == 1 }.count] : nil
        let groupList = groups.map { group in
            AuditReport.Group(fingerprint: fingerprint(group.key), nodes: group.nodes.map { names[Int($0)] })
        }.sorted { $0.nodes.count > $1.nodes.count }
        return AuditReport(nodeCount: total, policy: policy.name, groups: groupList, differences: differences,
                           sideCounts: sideCounts)
    }

    /// A group's fingerprint: sha256 over its sections' ids and content hashes, in id order.
    private func fingerprint(_ key: [Int32]) -> String {
        var bytes: [UInt8] = []
        for pair in stride(from: 0, to: key.count, by: 2) {
            let table = tables[Int(key[pair])]
            bytes += Array(table.id.utf8) + [0] + table.contents[Int(key[pair + 1])].hash + [0]
        }
        return Manifest.sha256(bytes)
    }
}

/// One section across all nodes: its distinct contents and who has each.
struct SectionTable: Sendable {
    struct Content: Sendable {
        var leaves: [(path: String, value: JSONValue)]
        /// sha256 over the leaves: what a group's fingerprint is made of.
        var hash: [UInt8]
        var nodes: [Int32] = []
    }

    let id: String
    var contents: [Content] = []
    /// Filtered-content hash → index in `contents`.
    var byHash: [[UInt8]: Int] = [:]
    /// Raw section → (index in `contents`, hash): saves flattening identical sections again.
    /// Bounded: once full, sections are flattened each time (a per-node serial makes every raw section
    /// distinct, yet the filtered contents stay few).
    var raw: [JSONValue: Entry] = [:]
    static let rawCacheLimit = 512
    /// The same for the fast path, keyed by status and data bytes (cut values left out), at most
    /// `knownLimit` bytes of keys.
    var known: [ContentKey: Entry] = [:]
    var knownHeld = 0
    static let knownLimit = 64 << 20
    var skipped: [Int32] = []
    /// Keeps which paths matter between contents (pattern matching is the costly part).
    var flattener: Flattener?

    /// A distinct content's index in `contents` and its hash.
    typealias Entry = (index: Int, hash: [UInt8])

    /// Records a node's section given as bytes, not seen before: `cut` has the cut values left
    /// out, `exact` keeps them. Flattens the parsed data; when a cut value turns out to matter
    /// (the policy does not ignore it there), the exact bytes stand for the content. Sets the
    /// chosen template's entry.
    mutating func add(cut: Template, exact: Template, parsed: JSONValue?, node: Int32, policy: Policy,
                      cutNames: Set<String>) -> Template {
        var section: [String: JSONValue] = ["status": cut.key.status]
        if let parsed { section["data"] = parsed }
        if flattener == nil { flattener = Flattener(policy: policy) }
        flattener!.cutNames = cut.key.cuts.isEmpty ? [] : cutNames
        flattener!.cutMatters = false
        let entry = add(.object(section), node: node, policy: policy, rawCache: false)
        var template = flattener!.cutMatters ? exact : cut
        flattener!.cutNames = []
        template.entry = entry
        if knownHeld + template.key.bytes.count <= SectionTable.knownLimit {
            known[template.key] = template.entry
            knownHeld += template.key.bytes.count
        }
        return template
    }

    init(id: String) { self.id = id }

    /// Records the node's content; returns its index in `contents` and its hash.
    mutating func add(_ section: JSONValue, node: Int32, policy: Policy, rawCache: Bool = true) -> Entry {
        // Only status and data describe the environment (not durations or issue texts).
        let key: JSONValue = rawCache ? .array([section["status"] ?? .null, section["data"] ?? .null]) : .null
        if rawCache, let entry = raw[key] {
            contents[entry.index].nodes.append(node)
            return entry
        }
        var leaves: [(path: String, value: JSONValue)] = []
        if flattener == nil { flattener = Flattener(policy: policy) }
        flattener!.leaf(id + ".status", section["status"] ?? .null, into: &leaves)
        if let data = section["data"] { flattener!.walk(id, section: id, shape: "", data, into: &leaves) }
        // sha256 over `path NUL canonical-value NUL` per leaf, fed in 64 KiB pieces (the whole
        // serialization of a 45 MB section was a second copy of it).
        var hasher = SHA256()
        var serialized: [UInt8] = []
        serialized.reserveCapacity(1 << 16 + 4096)
        for leaf in leaves {
            serialized.append(contentsOf: leaf.path.utf8)
            serialized.append(0)
            CanonicalJSON.serialize(leaf.value, into: &serialized)
            serialized.append(0)
            if serialized.count >= 1 << 16 {
                hasher.update(data: serialized)
                serialized.removeAll(keepingCapacity: true)
            }
        }
        hasher.update(data: serialized)
        let hash = Array(("sha256:" + hexString(hasher.finalize())).utf8)
        let index: Int
        if let existing = byHash[hash] {
            index = existing
        } else {
            index = contents.count
            contents.append(Content(leaves: leaves, hash: hash))
            byHash[hash] = index
        }
        contents[index].nodes.append(node)
        if rawCache && raw.count < SectionTable.rawCacheLimit { raw[key] = (index, hash) }
        return (index, hash)
    }

    func differences(names: [String], sides: [UInt8], total: Int, compare: Bool) -> [AuditReport.Difference] {
        // Nodes that say something about this section: all but those where it was skipped.
        let considered = total - skipped.count
        // Each path gets a number; its occurrences (content, leaf), in content then leaf order,
        // are grouped by path in one flat array (a counting sort). Nested dictionaries per path
        // (path → value → contents) took 2 GB and most of the time for two 45 MB manifests.
        var pathNumbers: [String: Int32] = [:]
        var pathNames: [String] = []
        var leafPaths: [[Int32]] = []
        leafPaths.reserveCapacity(contents.count)
        for content in contents {
            var numbers: [Int32] = []
            numbers.reserveCapacity(content.leaves.count)
            for leaf in content.leaves {
                if let number = pathNumbers[leaf.path] {
                    numbers.append(number)
                } else {
                    let number = Int32(pathNames.count)
                    pathNumbers[leaf.path] = number
                    pathNames.append(leaf.path)
                    numbers.append(number)
                }
            }
            leafPaths.append(numbers)
        }
        pathNumbers = [:]
        var starts = [Int](repeating: 0, count: pathNames.count + 1)
        for numbers in leafPaths { for number in numbers { starts[Int(number) + 1] += 1 } }
        for index in pathNames.indices { starts[index + 1] += starts[index] }
        var filled = starts
        var occurrences = [(content: Int32, leaf: Int32)](repeating: (0, 0), count: starts[pathNames.count])
        for (content, numbers) in leafPaths.enumerated() {
            for (leaf, number) in numbers.enumerated() {
                occurrences[filled[Int(number)]] = (Int32(content), Int32(leaf))
                filled[Int(number)] += 1
            }
        }
        leafPaths = []
        // The paths whose value is not one and the same on every node considered.
        var differing: [Int] = []
        for number in pathNames.indices {
            let range = starts[number]..<starts[number + 1]
            let first = occurrences[range.lowerBound]
            let firstValue = contents[Int(first.content)].leaves[Int(first.leaf)].value
            var present = 0
            var same = true
            for occurrence in occurrences[range] {
                present += contents[Int(occurrence.content)].nodes.count
                if same && contents[Int(occurrence.content)].leaves[Int(occurrence.leaf)].value != firstValue { same = false }
            }
            if same && present == (pathNames[number] == id + ".status" ? total : considered) { continue }
            differing.append(number)
        }
        differing.sort { pathNames[$0] < pathNames[$1] }
        var result: [AuditReport.Difference] = []
        for number in differing {
            let path = pathNames[number]
            // value → contents holding it (small: bounded by distinct contents).
            var values: [JSONValue: [Int]] = [:]
            for occurrence in occurrences[starts[number]..<starts[number + 1]] {
                values[contents[Int(occurrence.content)].leaves[Int(occurrence.leaf)].value, default: []]
                    .append(Int(occurrence.content))
            }
            let present = values.values.reduce(0) { sum, list in sum + list.reduce(0) { $0 + contents[$1].nodes.count } }
            let isStatus = path == id + ".status"
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

/// Turns section data into `path → value` leaves, ManifestDiff's way, leaving out ignored fields.
struct Flattener {
    let policy: Policy
    /// Patterns decided per path are cached: the same paths recur on every distinct content.
    var decided: [String: Bool] = [:]
    /// Field names cut out of the bytes this content was looked up by (`AuditBuilder.cutNames`)…
    var cutNames: Set<String> = []
    /// …and whether one of them, with a plain value, is at a path that matters, or may have
    /// decided which identity key names a list's elements: then its values are needed to tell
    /// contents apart, and the content must be looked up by its exact bytes.
    var cutMatters = false

    /// The policy's patterns, indexed by their literal heads, and rules (a copy of a whole rule for
    /// each try was a fifth of an audit of 500,000 package records).
    let patterns: PathPatternIndex
    let kinds: [Policy.Rule]

    init(policy: Policy) {
        self.policy = policy
        patterns = PathPatternIndex(policy.rules.map(\.pattern))
        kinds = policy.rules.map(\.rule)
    }

    /// Whether a path's rule is not `ignore`: `Policy.entry(for:)`, the first rule that matches.
    mutating func matters(_ path: String) -> Bool {
        if let known = decided[path] { return known }
        let first = patterns.firstMatch(path)
        let result = (first.map { kinds[$0] } ?? policy.fallback.rule) != .ignore
        // Bounded: a section of 500,000 package records has millions of paths seen once.
        if decided.count < Flattener.decidedLimit { decided[path] = result }
        return result
    }

    static let decidedLimit = 100_000

    mutating func leaf(_ path: String, _ value: JSONValue, into leaves: inout [(path: String, value: JSONValue)]) {
        if matters(path) { leaves.append((path, value)) }
    }

    /// `section`: the section id; `shape`: the path inside its data without element names
    /// (`ListIdentity`).
    mutating func walk(_ path: String, section: String, shape: String, _ value: JSONValue,
                       into leaves: inout [(path: String, value: JSONValue)])
    {
        switch value {
        case .object(let members):
            // An empty object has no fields to differ in (`{}` and `{"A": 1}` differ in `.A` only).
            for key in members.keys.sorted() {
                let member = members[key]!
                if cutNames.contains(key), member.isPlain, matters(path + "." + key) { cutMatters = true }
                walk(path + "." + key, section: section, shape: ListIdentity.member(shape, key), member, into: &leaves)
            }
        case .array(let elements) where !elements.isEmpty:
            if elements.allSatisfy(\.isPlain) {
                // A set: sorted and without repeats, so order never makes a difference.
                var seen = Set<JSONValue>()
                let unique = elements.filter { seen.insert($0).inserted }
                    .sorted { CanonicalJSON.string($0) < CanonicalJSON.string($1) }
                leaf(path, .array(unique), into: &leaves)
            } else {
                let candidates = ListIdentity.candidates(section: section, shape: shape)
                let key = ListIdentity.key(candidates: candidates, [elements])
                noteCutIdentityKeys(candidates, upTo: key, in: elements)
                let elementShape = shape + "[]"
                if let key {
                    for element in elements {
                        walk("\(path)[\(ListIdentity.name(element[key]!))]", section: section, shape: elementShape, element,
                             into: &leaves)
                    }
                } else {
                    for (position, element) in elements.enumerated() {
                        walk("\(path)[\(position)]", section: section, shape: elementShape, element, into: &leaves)
                    }
                }
            }
        default:
            leaf(path, value, into: &leaves)
        }
    }

    /// Identity keys are tried in order, and the values of each decide whether it names the
    /// elements: a cut name among the keys tried up to the chosen one (all of them when elements
    /// are named by position) that the elements have may have decided it (`cutMatters`). Cut keys
    /// after the chosen one never take part.
    mutating func noteCutIdentityKeys(_ candidates: [String], upTo chosen: String?, in elements: [JSONValue]) {
        guard !cutNames.isEmpty else { return }
        for key in candidates {
            if cutNames.contains(key), elements.contains(where: { $0[key] != nil }) {
                cutMatters = true
                return
            }
            if key == chosen { return }
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
        /// Whether another value has as many nodes as the first: no value is the majority then,
        /// and the first is only the first in value order.
        public var isTie: Bool { shares.count > 1 && shares[1].nodes.count == shares[0].nodes.count }
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

extension JSONValue {
    /// Neither an object nor an array.
    var isPlain: Bool {
        switch self {
        case .object, .array: return false
        default: return true
        }
    }
}
