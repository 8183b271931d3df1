import ProvenanceCore

/// A machine path pattern of a probe's declared reads (`ProbeDescriptor.reads`), as data: what
/// the check of declared reads matches every path a probe touched against.
///
/// - `*` stands for any run of characters within one path component, `**` for any number of
///   components; `{a,b,c}` for alternatives (which may hold `/`: `{HEAD,refs/*}`).
/// - A leading placeholder stands for any directory: `$VIRTUAL_ENV/pyvenv.cfg`, `~/.gitconfig`,
///   `SITE/*.dist-info/METADATA` (an upper-case word), `REPO/**`.
/// - Text after the path is a note and is not matched: `/proc/driver/nvidia/version (fallback)`.
///   One entry may list several paths separated by `, `.
/// - An entry that names no path ("environment: CUDA_*", "getcwd, getuid") declares no file.
/// - `links: PATTERN` declares lookups only (links followed, existence checked), no file read.
public struct MachinePathPattern: Sendable, Equatable, CustomStringConvertible {
    /// The components of each alternative (braces expanded).
    let alternatives: [[String]]
    public let description: String
    /// Declares lookups (readlink, exists, listing) only, never reading a file's bytes.
    public var lookupOnly = false

    /// The path patterns of one `reads` entry (none when it names no path).
    public static func parse(_ entry: String) -> [MachinePathPattern] {
        var patterns: [MachinePathPattern] = []
        var entry = Substring(entry)
        let lookupOnly = entry.hasPrefix("links: ")
        if lookupOnly { entry = entry.dropFirst("links: ".count) }
        for piece in splitTopLevel(String(entry)) {
            var text = piece.trimmingCharacters(in: " ")
            // A note after the path: "(fallback)", "(link)", "(live only)".
            if let note = text.firstRange(of: " (") { text = String(text[..<note.lowerBound]) }
            if let space = text.firstIndex(of: " ") { text = String(text[..<space]) }
            guard let path = anchored(text) else { continue }
            let alternatives = expandBraces(path).map { alternative in
                alternative.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            }
            patterns.append(MachinePathPattern(alternatives: alternatives, description: path, lookupOnly: lookupOnly))
        }
        return patterns
    }

    /// Whether the pattern names `path` itself.
    public func matches(_ path: String) -> Bool {
        let components = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        return alternatives.contains { Self.match($0[...], components[...], prefix: false) }
    }

    /// Whether `path` is a directory on the way to what the pattern names (or the path itself):
    /// listing `/sys/bus/pci/devices` is within `/sys/bus/pci/devices/*/vendor`.
    public func covers(_ path: String) -> Bool {
        let components = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        return alternatives.contains { Self.match($0[...], components[...], prefix: true) }
    }

    private static func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>, prefix: Bool) -> Bool {
        guard let head = pattern.first else { return path.isEmpty }
        if path.isEmpty { return prefix || pattern.allSatisfy { $0 == "**" } }
        if head == "**" {
            // Any number of components, including none.
            if match(pattern.dropFirst(), path, prefix: prefix) { return true }
            return match(pattern, path.dropFirst(), prefix: prefix)
        }
        return globMatches(head, path.first!) && match(pattern.dropFirst(), path.dropFirst(), prefix: prefix)
    }

    /// `*` matches any run of characters of one component.
    public static func globMatches(_ pattern: String, _ name: String) -> Bool {
        // Bytes when both are ASCII without CR (where a byte is a character): the environment
        // probe matches every variable against a hundred patterns, and splitting each pattern
        // into strings for each match was 2.4 ms of every capture.
        var patternBytes = pattern
        var nameBytes = name
        if let matched = patternBytes.withUTF8({ p in nameBytes.withUTF8 { n in asciiGlobMatches(p, n) } }) {
            return matched
        }
        return globMatchesByCharacters(pattern, name)
    }

    /// `globMatches` on characters: any name, and the reference the byte path is tested against.
    static func globMatchesByCharacters(_ pattern: String, _ name: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 1 { return pattern == name }
        guard name.hasPrefix(parts[0]) else { return false }
        var rest = Substring(name.dropFirst(parts[0].count))
        for (index, part) in parts.enumerated().dropFirst() {
            if index == parts.count - 1 { return part.isEmpty || rest.hasSuffix(part) }
            guard !part.isEmpty else { continue }
            guard let range = rest.firstRange(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return true
    }

    /// `globMatches` on bytes, by the same steps (the first part a prefix, each middle part at its
    /// first place after the one before, the last a suffix of the rest); nil unless both are
    /// ASCII without CR.
    static func asciiGlobMatches(_ pattern: UnsafeBufferPointer<UInt8>, _ name: UnsafeBufferPointer<UInt8>) -> Bool? {
        guard isOneCharacterPerByte(pattern), isOneCharacterPerByte(name) else { return nil }
        let star = UInt8(ascii: "*")
        guard let firstStar = pattern.firstIndex(of: star) else { return pattern.elementsEqual(name) }
        func matches(_ part: Range<Int>, at offset: Int) -> Bool {
            offset >= 0 && offset + part.count <= name.count
                && (0..<part.count).allSatisfy { pattern[part.lowerBound + $0] == name[offset + $0] }
        }
        guard matches(0..<firstStar, at: 0) else { return false }
        var rest = firstStar  // where the unmatched rest of the name starts
        var partStart = firstStar + 1
        while true {
            let partEnd = pattern[partStart...].firstIndex(of: star) ?? pattern.count
            let part = partStart..<partEnd
            if partEnd == pattern.count {
                return part.isEmpty || (name.count - rest >= part.count && matches(part, at: name.count - part.count))
            }
            if !part.isEmpty {
                guard let found = (rest...max(rest, name.count - part.count)).first(where: { matches(part, at: $0) })
                else { return false }
                rest = found + part.count
            }
            partStart = partEnd + 1
        }
    }

    /// The pattern as an absolute path, a leading placeholder made `**`; nil when it is no path.
    private static func anchored(_ text: String) -> String? {
        if text.hasPrefix("/") { return text }
        guard let slash = text.firstIndex(of: "/") else { return nil }
        let head = text[..<slash]
        let isPlaceholder = head == "~" || (head.hasPrefix("$") && head.count > 1)
            || (!head.isEmpty && head.allSatisfy { $0.isUppercase || $0 == "_" })
        return isPlaceholder ? "/**" + text[slash...] : nil
    }

    /// `a, b (note, more), c{d,e}` → `a`, `b (note, more)`, `c{d,e}`: commas inside braces or
    /// parentheses do not separate.
    private static func splitTopLevel(_ entry: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var depth = 0
        for character in entry {
            if character == "{" || character == "(" { depth += 1 }
            if character == "}" || character == ")" { depth -= 1 }
            if character == "," && depth == 0 {
                pieces.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        pieces.append(current)
        return pieces
    }

    /// `a{b,c}d{e,f}` → `abde`, `abdf`, `acde`, `acdf`.
    static func expandBraces(_ text: String) -> [String] {
        guard let open = text.firstIndex(of: "{"), let close = text[open...].firstIndex(of: "}") else { return [text] }
        let head = text[..<open]
        let tail = String(text[text.index(after: close)...])
        let options = text[text.index(after: open)..<close].split(separator: ",", omittingEmptySubsequences: false)
        return options.flatMap { option in expandBraces(tail).map { head + option + $0 } }
    }
}

extension ProbeDescriptor {
    /// The machine path patterns of `reads`.
    public var readPatterns: [MachinePathPattern] { reads.flatMap(MachinePathPattern.parse) }

    /// The environment variables the probe declares reading (`environment: CUDA_VISIBLE_DEVICES,
    /// SLURM_*` entries of `reads`), as name patterns (`*`: any run of characters).
    public var environmentPatterns: [String] {
        reads.filter { $0.hasPrefix("environment: ") }.flatMap { entry in
            entry.dropFirst("environment: ".count).split(separator: ",").map { $0.trimmingCharacters(in: " ") }
                .filter { !$0.isEmpty }
        }
    }

    /// Whether the descriptor declares reading the file at `path`.
    public func declaresRead(_ path: String) -> Bool { readPatterns.contains { !$0.lookupOnly && $0.matches(path) } }

    /// Whether `path` is declared or lies on the way to a declared path (a directory listed or
    /// looked up to find the files).
    public func declaresLookup(_ path: String) -> Bool { readPatterns.contains { $0.covers(path) } }

    /// Whether the descriptor declares running `argv`: a `runs` entry whose first word is the
    /// command's name (`nvidia-smi -q -x` declares `["nvidia-smi", "-q", "-x"]` and
    /// `["/usr/bin/nvidia-smi", ...]`; `*` in the name is a glob: `ld-musl-*.so.1`). Upper-case
    /// words stand for any value (`ARCH`).
    public func declaresRun(_ argv: [String]) -> Bool {
        guard let first = argv.first else { return false }
        let name = String(first.split(separator: "/").last ?? Substring(first))
        return runs.contains { entry in
            guard let declared = entry.split(separator: " ").first.map(String.init) else { return false }
            let pattern = declared.replacing("ARCH", with: "*")
            return MachinePathPattern.globMatches(pattern, name) || declared == "*"
        }
    }
}
