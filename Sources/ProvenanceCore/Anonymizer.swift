/// Replaces identifying values (host names, serial numbers, UUIDs, MAC addresses, user names,
/// the values of fields a site probe marked identifying) with placeholders, consistently: one value always becomes the same placeholder, in text, bytes
/// and JSON alike, so a recording (`provenance record --anonymize`) or a rendered appendix stays
/// coherent (the GPU named in one file is the GPU named in the other).
///
/// Deterministic: placeholders are numbered per kind in the sorted order of the values, so the
/// same set of values gives the same mapping on every run. A placeholder keeps the shape of what
/// it replaces where parsers look at it: a UUID stays a UUID (`00000000-0000-4000-8000-000000000001`,
/// upper case kept), a MAC address stays a locally administered MAC (`02:00:00:00:00:01`).
/// Values are replaced only as whole words (not inside a longer run of letters and digits), the
/// longest first. Pure: no I/O.
public struct Anonymizer: Sendable, Equatable {
    /// What an identifying value is.
    public enum Kind: String, CaseIterable, Sendable, Comparable {
        case hostName = "host"
        case serial
        case uuid
        case mac
        case user
        /// A path outside the system's directories (home, project, data, scratch), in a rendered appendix.
        case path
        /// A remote URL (git remotes), in a rendered appendix.
        case remote
        /// An organisation or repository name taken from a remote URL, in a rendered appendix.
        case organisation = "org"
        /// The value of a field a site probe marked identifying (a section's `identifying`).
        case site

        public static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Identifying value → placeholder.
    public private(set) var replacements: [String: String]
    /// The kind of each value replaced.
    public private(set) var kinds: [String: Kind]

    /// Values too common to be identifying, never replaced (`root`, `localhost`, all-zero ids).
    public static let ignored: Set<String> = [
        "root", "nobody", "localhost", "localhost.localdomain", "(none)", "none", "unknown", "N/A", "Not Specified",
        "To Be Filled By O.E.M.", "Default string", "0", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff",
        "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
    ]

    /// The mapping for these values: within each kind, placeholders numbered in sorted order.
    /// A value given under two kinds keeps the first kind's placeholder (kinds in `Kind` order).
    public init(values: [Kind: Set<String>]) {
        var replacements: [String: String] = [:]
        var kinds: [String: Kind] = [:]
        for kind in Kind.allCases {
            var number = 0
            for value in (values[kind] ?? []).sorted()
            where replacements[value] == nil && !Self.ignored.contains(value) && !Self.ignored.contains(value.lowercased())
                && !value.isEmpty
            {
                number += 1
                replacements[value] = Self.placeholder(for: value, kind: kind, number: number)
                kinds[value] = kind
            }
        }
        self.replacements = replacements
        self.kinds = kinds
    }

    /// How many values of each kind are replaced.
    public var counts: [Kind: Int] {
        var counts: [Kind: Int] = [:]
        for kind in kinds.values { counts[kind, default: 0] += 1 }
        return counts
    }

    /// The same mapping limited to some kinds (paths of a recording keep host names: a two-letter
    /// host name would otherwise rename `/proc/sys/vm`).
    public func limited(to allowed: Set<Kind>) -> Anonymizer {
        var copy = self
        for (value, kind) in kinds where !allowed.contains(kind) {
            copy.replacements[value] = nil
            copy.kinds[value] = nil
        }
        return copy
    }

    /// `text` with every identifying value replaced.
    public func apply(to text: String) -> String {
        guard !replacements.isEmpty else { return text }
        return String(decoding: apply(to: Array(text.utf8)), as: UTF8.self)
    }

    /// `bytes` (text or binary) with every identifying value, as UTF-8, replaced.
    public func apply(to bytes: [UInt8]) -> [UInt8] {
        guard !replacements.isEmpty, !bytes.isEmpty else { return bytes }
        // Candidates by first byte, longest first.
        var byFirst: [UInt8: [(needle: [UInt8], replacement: [UInt8])]] = [:]
        for (value, placeholder) in replacements {
            let needle = Array(value.utf8)
            byFirst[needle[0], default: []].append((needle, Array(placeholder.utf8)))
        }
        for key in byFirst.keys { byFirst[key]!.sort { $0.needle.count > $1.needle.count } }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = 0
        var replaced = false
        while index < bytes.count {
            if let candidates = byFirst[bytes[index]], index == 0 || !isWordByte(bytes[index - 1]) {
                var matched = false
                for candidate in candidates {
                    let end = index + candidate.needle.count
                    guard end <= bytes.count, end == bytes.count || !isWordByte(bytes[end]) else { continue }
                    if bytes[index..<end].elementsEqual(candidate.needle) {
                        result.append(contentsOf: candidate.replacement)
                        index = end
                        matched = true
                        replaced = true
                        break
                    }
                }
                if matched { continue }
            }
            result.append(bytes[index])
            index += 1
        }
        return replaced ? result : bytes
    }

    /// `json` with every identifying value replaced in its strings and object keys.
    public func apply(to json: JSONValue) -> JSONValue {
        guard !replacements.isEmpty else { return json }
        switch json {
        case .string(let text): return .string(apply(to: text))
        case .array(let items): return .array(items.map { apply(to: $0) })
        case .object(let members):
            var result: [String: JSONValue] = [:]
            for (key, value) in members { result[apply(to: key)] = apply(to: value) }
            return .object(result)
        default: return json
        }
    }

    private func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    static func placeholder(for value: String, kind: Kind, number: Int) -> String {
        switch kind {
        case .hostName: return "host-\(number)"
        case .user: return "user-\(number)"
        case .serial: return "serial-\(number)"
        case .path: return "path-\(number)"
        case .remote: return "remote-\(number)"
        case .organisation: return "org-\(number)"
        case .site: return "site-\(number)"
        case .uuid:
            let digits = String(number, radix: 16)
            let tail = String(repeating: "0", count: max(0, 12 - digits.count)) + digits
            let text = "00000000-0000-4000-8000-" + tail
            return value.contains(where: { $0.isUppercase }) ? text.uppercased() : text
        case .mac:
            let separator: Character = value.contains("-") ? "-" : ":"
            let bytes = [0x02, 0, 0, (number >> 16) & 0xff, (number >> 8) & 0xff, number & 0xff]
            let text = bytes.map { byte in
                let hex = String(byte, radix: 16)
                return hex.count == 1 ? "0" + hex : hex
            }.joined(separator: String(separator))
            return value.contains(where: { $0.isUppercase }) ? text.uppercased() : text
        }
    }

    // MARK: - Finding identifying values

    /// The strings of a marked field's value (a string, or the strings in a list or object), trimmed.
    /// Numbers and booleans are not taken: a bare `17` replaced as a word would rename every 17.
    static func siteValues(_ value: JSONValue?) -> Set<String> {
        switch value {
        case .string(let text)?:
            let trimmed = text.trimmed
            return trimmed.isEmpty ? [] : [trimmed]
        case .array(let items)?: return items.reduce(into: []) { $0.formUnion(siteValues($1)) }
        case .object(let members)?: return members.values.reduce(into: []) { $0.formUnion(siteValues($1)) }
        default: return []
        }
    }

    /// UUIDs written 8-4-4-4-12 in hex (any case), as whole words.
    public static func uuids(in text: String) -> Set<String> {
        words(in: text, length: 36).filter { word in
            let characters = Array(word)
            for (index, character) in characters.enumerated() {
                if [8, 13, 18, 23].contains(index) {
                    if character != "-" { return false }
                } else if !character.isHexDigit {
                    return false
                }
            }
            return true
        }
    }

    /// MAC addresses written as six pairs of hex digits separated by `:` or `-`, as whole words.
    public static func macAddresses(in text: String) -> Set<String> {
        words(in: text, length: 17).filter { word in
            let characters = Array(word)
            let separator = characters[2]
            guard separator == ":" || separator == "-" else { return false }
            for (index, character) in characters.enumerated() {
                if index % 3 == 2 {
                    if character != separator { return false }
                } else if !character.isHexDigit {
                    return false
                }
            }
            return true
        }
    }

    /// Runs of `length` characters made of hex digits, `-` and `:`, not inside a longer such run
    /// or a word.
    private static func words(in text: String, length: Int) -> Set<String> {
        var found: Set<String> = []
        let bytes = Array(text.utf8)
        func isPart(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ":")
        }
        // The run is maximal, so the bytes around it are not hex digits: only a letter would make
        // it part of a longer word (`g1234…`).
        func isLetter(_ byte: UInt8) -> Bool { (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) }
        var index = 0
        while index < bytes.count {
            guard isPart(bytes[index]) else {
                index += 1
                continue
            }
            var end = index
            while end < bytes.count && isPart(bytes[end]) { end += 1 }
            let next = end
            // Separators at either end belong to the surroundings (`GPU-` before a UUID).
            var start = index
            while start < end && (bytes[start] == UInt8(ascii: "-") || bytes[start] == UInt8(ascii: ":")) { start += 1 }
            while end > start && (bytes[end - 1] == UInt8(ascii: "-") || bytes[end - 1] == UInt8(ascii: ":")) { end -= 1 }
            let before = start > 0 ? bytes[start - 1] : 0x20
            let after = end < bytes.count ? bytes[end] : 0x20
            if end - start == length && !isLetter(before) && !isLetter(after) {
                found.insert(String(decoding: bytes[start..<end], as: UTF8.self))
            }
            index = next
        }
        return found
    }

    /// The identifying values of a manifest: its host name, values of keys that name serial
    /// numbers, UUIDs and MAC addresses (`serial`, `boardSerial`, `uuid`, `macAddress`, ...),
    /// every UUID or MAC address written in its strings, and the values of the fields each
    /// section lists as `identifying` (a site probe's marking: every string under that field).
    public static func identifyingValues(inManifest manifest: JSONValue) -> [Kind: Set<String>] {
        var values: [Kind: Set<String>] = [:]
        if let host = manifest["hostName"]?.stringValue { values[.hostName, default: []].insert(host) }
        for section in manifest["sections"]?.objectValue?.values.map({ $0 }) ?? [] {
            for field in section["identifying"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                values[.site, default: []].formUnion(siteValues(section["data"]?[field]))
            }
        }
        func visit(_ value: JSONValue, key: String?) {
            switch value {
            case .string(let text):
                let lowered = key?.lowercased() ?? ""
                if lowered.hasSuffix("serial") || lowered.hasSuffix("serialnumber") {
                    values[.serial, default: []].insert(text)
                } else if lowered.hasSuffix("uuid") && !text.isEmpty && uuids(in: text).isEmpty {
                    // `GPU-<uuid>` is found below as the UUID it holds; other ids are taken whole.
                    values[.uuid, default: []].insert(text)
                } else if lowered.hasSuffix("macaddress") || lowered == "mac" {
                    values[.mac, default: []].insert(text)
                } else if lowered == "hostname" || lowered == "nodename" || lowered == "clustername" {
                    values[.hostName, default: []].insert(text)
                } else if lowered == "user" || lowered == "username" || lowered == "logname" {
                    values[.user, default: []].insert(text)
                }
                values[.uuid, default: []].formUnion(uuids(in: text))
                values[.mac, default: []].formUnion(macAddresses(in: text))
            case .array(let items): for item in items { visit(item, key: key) }
            case .object(let members): for (name, member) in members { visit(member, key: name) }
            default: break
            }
        }
        visit(manifest["sections"] ?? .null, key: nil)
        return values.filter { !$0.value.isEmpty }
    }
}
