#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds a manifest's envelope fields and each section's `status` and `data` as byte ranges,
/// without building the document: the audit's fast path over thousands of manifests.
///
/// Only the structure is followed (strings, nesting); a section's data is parsed and checked in
/// full by `JSONParser` the first time its bytes are seen, so bytes seen again are known to be
/// valid. Two things make repeated data cheap:
/// - *cuts*: the plain values of fields named in `cutNames` (identity fields such as `serial`,
///   which the audit ignores) are noted, so data that differs only there can be looked up as the
///   same bytes with those values left out;
/// - *templates*: when a section's data matches the data last seen for that section (compared
///   with `memcmp`, any plain value in the cuts), it is not scanned at all.
struct ManifestScanner {
    struct Section {
        var id: String
        var status: JSONValue?
        var data: Range<Int>?
        /// The ranges of the cut values inside `data`, in order.
        var cuts: [Range<Int>] = []
        /// Whether `data` matched the section's template (so its content is already known).
        var matchedTemplate = false
        /// The scheduler section's `volatile` part (it names the node: Slurm's node name).
        var volatile: Range<Int>?
    }

    struct Scanned {
        var schemaVersion: JSONValue?
        var hostName: JSONValue?
        var sections: [Section] = []
        var hasSections = false
    }

    struct Failure: Error { let message: String }

    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    /// Field names whose plain values are cut out of section data (as UTF-8, without escapes).
    let cutNames: [[UInt8]]
    /// Per section id, the data last seen.
    let templates: [String: Template]

    init(_ bytes: UnsafeBufferPointer<UInt8>, cutNames: [[UInt8]] = [], templates: [String: Template] = [:]) {
        self.bytes = bytes
        self.cutNames = cutNames
        self.templates = templates
    }

    static func scan(_ bytes: UnsafeBufferPointer<UInt8>, cutNames: [[UInt8]] = [],
                     templates: [String: Template] = [:]) throws(ManifestReader.Error) -> Scanned {
        do {
            var scanner = ManifestScanner(bytes, cutNames: cutNames, templates: templates)
            return try scanner.manifest()
        } catch {
            throw ManifestReader.Error(description: "not a manifest: \(error.message)")
        }
    }

    mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    mutating func expect(_ byte: UInt8) throws(Failure) {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else {
            throw Failure(message: "expected '\(Character(Unicode.Scalar(byte)))' at byte \(index)")
        }
        index += 1
    }

    /// Skips a string (at its opening quote); returns its range, quotes included.
    mutating func string() throws(Failure) -> Range<Int> {
        skipSpace()
        let start = index
        guard index < bytes.count, bytes[index] == 0x22 else { throw Failure(message: "expected a string at byte \(index)") }
        index += 1
        guard let base = bytes.baseAddress else { throw Failure(message: "unterminated string") }
        while index < bytes.count {
            // The next quote (memchr: the scanner's hot loop), escaped when preceded by an odd
            // number of backslashes.
            guard let found = memchr(base + index, 0x22, bytes.count - index) else { break }
            let quote = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            var backslashes = 0
            while quote - 1 - backslashes > start, bytes[quote - 1 - backslashes] == 0x5C { backslashes += 1 }
            index = quote + 1
            if backslashes % 2 == 0 { return start..<index }
        }
        throw Failure(message: "unterminated string")
    }

    /// Skips any value; returns its range.
    mutating func value() throws(Failure) -> Range<Int> {
        skipSpace()
        let start = index
        guard index < bytes.count else { throw Failure(message: "unexpected end") }
        switch bytes[index] {
        case 0x22:
            return try string()
        case 0x7B, 0x5B:
            var depth = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 0x22 { _ = try string(); continue }
                index += 1
                if byte == 0x7B || byte == 0x5B { depth += 1 }
                if byte == 0x7D || byte == 0x5D {
                    depth -= 1
                    if depth == 0 { return start..<index }
                }
            }
            throw Failure(message: "unterminated object or array")
        default:
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 0x2C || byte == 0x7D || byte == 0x5D || byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { break }
                index += 1
            }
            guard index > start else { throw Failure(message: "expected a value at byte \(index)") }
            return start..<index
        }
    }

    /// Skips an object or array like `value()`, noting the plain values of cut names (members
    /// whose key is one of `cutNames` and whose value is not an object or array).
    mutating func data() throws(Failure) -> (range: Range<Int>, cuts: [Range<Int>]) {
        skipSpace()
        let start = index
        var cuts: [Range<Int>] = []
        var depth = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x22 {
                let string = try string()
                // A key: a string followed by ':'.
                if !cutNames.isEmpty, isCutName(string) {
                    skipSpace()
                    if index < bytes.count, bytes[index] == 0x3A {
                        index += 1
                        skipSpace()
                        // Checked here: the rest of the data may be found known without parsing.
                        if index < bytes.count, bytes[index] != 0x7B, bytes[index] != 0x5B { cuts.append(try plainValue()) }
                    }
                }
                continue
            }
            index += 1
            if byte == 0x7B || byte == 0x5B { depth += 1 }
            if byte == 0x7D || byte == 0x5D {
                depth -= 1
                if depth == 0 { return (start..<index, cuts) }
            }
        }
        throw Failure(message: "unterminated object or array")
    }

    /// Whether a string (its range, quotes included) is one of the cut names.
    func isCutName(_ string: Range<Int>) -> Bool {
        let length = string.count - 2
        guard let base = bytes.baseAddress else { return false }
        for name in cutNames where name.count == length {
            if name.withUnsafeBytes({ memcmp(base + string.lowerBound + 1, $0.baseAddress!, length) }) == 0 { return true }
        }
        return false
    }

    /// Matches the data at `index` against a template: its bytes between the cuts must be equal,
    /// and each cut must hold a valid plain value (a string, number, boolean or null). On a match
    /// moves past the data and returns the cut values' ranges; otherwise leaves `index` alone.
    mutating func match(_ template: Template) -> [Range<Int>]? {
        let start = index
        guard let base = bytes.baseAddress else { return nil }
        var cuts: [Range<Int>] = []
        var position = index
        var offset = 0
        let matched = template.key.bytes.withUnsafeBufferPointer { expected -> Bool in
            for end in template.key.cuts + [expected.count] {
                let length = end - offset
                guard position + length <= bytes.count,
                      memcmp(base + position, expected.baseAddress! + offset, length) == 0 else { return false }
                position += length
                offset = end
                if end == expected.count { return true }
                index = position
                guard let value = try? plainValue() else { return false }
                cuts.append(value)
                position = value.upperBound
            }
            return true
        }
        guard matched else {
            index = start
            return nil
        }
        index = position
        return cuts
    }

    /// A string, number, boolean or null at `index` (after any space), checked by `JSONParser`.
    mutating func plainValue() throws(Failure) -> Range<Int> {
        skipSpace()
        guard index < bytes.count, bytes[index] != 0x7B, bytes[index] != 0x5B else { throw Failure(message: "not a plain value") }
        let range = try value()
        _ = try parse(range)
        return range
    }

    func parse(_ range: Range<Int>) throws(Failure) -> JSONValue {
        do {
            return try JSONParser.parse(UnsafeBufferPointer(rebasing: bytes[range]))
        } catch {
            throw Failure(message: "\(error)")
        }
    }

    func key(_ range: Range<Int>) throws(Failure) -> String {
        let inner = bytes[(range.lowerBound + 1)..<(range.upperBound - 1)]
        if !inner.contains(0x5C) { return String(decoding: inner, as: UTF8.self) }
        return try parse(range).stringValue ?? ""
    }

    /// Walks the members of an object, calling `body` with each key at its value.
    mutating func members(_ body: (inout ManifestScanner, String) throws(Failure) -> Void) throws(Failure) {
        try expect(0x7B)
        skipSpace()
        if index < bytes.count, bytes[index] == 0x7D { index += 1; return }
        while true {
            let name = try key(try string())
            try expect(0x3A)
            try body(&self, name)
            skipSpace()
            guard index < bytes.count else { throw Failure(message: "unexpected end") }
            if bytes[index] == 0x2C { index += 1; continue }
            if bytes[index] == 0x7D { index += 1; return }
            throw Failure(message: "expected ',' or '}' at byte \(index)")
        }
    }

    mutating func manifest() throws(Failure) -> Scanned {
        var result = Scanned()
        skipSpace()
        guard index < bytes.count, bytes[index] == 0x7B else { throw Failure(message: "the document is not an object") }
        try members { (scanner: inout ManifestScanner, name: String) throws(Failure) in
            switch name {
            case "schemaVersion": result.schemaVersion = try scanner.parse(try scanner.value())
            case "hostName": result.hostName = try scanner.parse(try scanner.value())
            case "sections":
                result.hasSections = true
                scanner.skipSpace()
                guard scanner.index < scanner.bytes.count, scanner.bytes[scanner.index] == 0x7B else {
                    throw Failure(message: "no \"sections\" object")
                }
                try scanner.members { (scanner: inout ManifestScanner, id: String) throws(Failure) in
                    var section = Section(id: id)
                    scanner.skipSpace()
                    guard scanner.index < scanner.bytes.count, scanner.bytes[scanner.index] == 0x7B else {
                        throw Failure(message: "section \"\(id.prefix(60))\" has no \"status\" string")
                    }
                    try scanner.members { (scanner: inout ManifestScanner, field: String) throws(Failure) in
                        switch field {
                        case "status": section.status = try scanner.parse(try scanner.value())
                        case "data":
                            scanner.skipSpace()
                            guard scanner.index < scanner.bytes.count else { throw Failure(message: "unexpected end") }
                            // The same rule as ManifestReader.check (diff, verify, render): data
                            // is an object when present (`"data": null` is refused there too).
                            if scanner.bytes[scanner.index] != 0x7B {
                                throw Failure(message: "section \"\(id.prefix(60))\" has data that is not an object")
                            } else if let template = scanner.templates[id], case let start = scanner.index,
                                      let cuts = scanner.match(template) {
                                section.data = start..<scanner.index
                                section.cuts = cuts
                                section.matchedTemplate = true
                            } else {
                                (section.data, section.cuts) = try scanner.data()
                            }
                        case "volatile" where id == "scheduler": section.volatile = try scanner.value()
                        default: _ = try scanner.value()
                        }
                    }
                    guard section.status?.stringValue != nil else {
                        throw Failure(message: "section \"\(id.prefix(60))\" has no \"status\" string")
                    }
                    result.sections.append(section)
                }
            default: _ = try scanner.value()
            }
        }
        return result
    }
}

/// A section's content as bytes: its status, and its data with the cut values left out.
struct ContentKey: Hashable, Sendable {
    var status: JSONValue
    /// The data's bytes without the cut values (empty when there is no data).
    var bytes: [UInt8]
    /// Offsets in `bytes` where a value was cut out.
    var cuts: [Int]

    /// The length and the first and last 2 KiB, in bulk (`[UInt8]`'s own hashing feeds every
    /// byte one at a time). Equality compares every byte (`memcmp`).
    func hash(into hasher: inout Hasher) {
        hasher.combine(status)
        hasher.combine(cuts)
        hasher.combine(bytes.count)
        bytes.withUnsafeBytes { bytes in
            let edge = 2048
            if bytes.count <= 2 * edge {
                hasher.combine(bytes: bytes)
            } else {
                hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: bytes[..<edge]))
                hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - edge)...]))
            }
        }
    }

    static func == (a: ContentKey, b: ContentKey) -> Bool {
        guard a.bytes.count == b.bytes.count, a.cuts == b.cuts, a.status == b.status else { return false }
        return a.bytes.withUnsafeBytes { x in
            b.bytes.withUnsafeBytes { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
        }
    }
}

/// A section's content as last seen on a node (`ManifestScanner` matches the next node's data
/// against it) and what the audit made of it.
struct Template: Sendable {
    var key: ContentKey
    var entry: SectionTable.Entry = (0, [])

    var status: JSONValue { key.status }

    /// The status and the data found at `data` in `bytes`, leaving out the `cuts` ranges.
    init(status: JSONValue, bytes: UnsafeBufferPointer<UInt8>, data: Range<Int>?, cuts: [Range<Int>]) {
        var kept: [UInt8] = []
        var offsets: [Int] = []
        if let data {
            kept.reserveCapacity(data.count)
            var start = data.lowerBound
            for cut in cuts {
                kept += UnsafeBufferPointer(rebasing: bytes[start..<cut.lowerBound])
                offsets.append(kept.count)
                start = cut.upperBound
            }
            kept += UnsafeBufferPointer(rebasing: bytes[start..<data.upperBound])
        }
        key = ContentKey(status: status, bytes: kept, cuts: offsets)
    }
}
