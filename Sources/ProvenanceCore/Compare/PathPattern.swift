/// A glob over diff paths (`gpu.nvidia.gpus[0000:3b:00.0].vbiosVersion`): `*` matches any run of
/// characters without `.` or `[`, `**` matches anything (dots and brackets included), `[*]` matches
/// any array identity; everything else matches itself.
public struct PathPattern: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    private let tokens: [Token<Character>]

    /// A pattern's parts, over Characters or (`ByteForm`) over bytes.
    enum Token<Unit: Equatable & Sendable>: Equatable, Sendable {
        case literal(Unit)
        case star        // within one segment
        case doubleStar  // across segments
        case anyIdentity // [*]
    }

    public init(_ text: String) {
        self.text = text
        var tokens: [Token<Character>] = []
        let characters = Array(text)
        var index = 0
        while index < characters.count {
            if characters[index] == "*" {
                if index + 1 < characters.count && characters[index + 1] == "*" {
                    tokens.append(.doubleStar)
                    index += 2
                } else {
                    tokens.append(.star)
                    index += 1
                }
            } else if characters[index] == "[", index + 2 < characters.count, characters[index + 1] == "*",
                      characters[index + 2] == "]" {
                tokens.append(.anyIdentity)
                index += 3
            } else {
                tokens.append(.literal(characters[index]))
                index += 1
            }
        }
        self.tokens = tokens
        // The byte form, for patterns in ASCII (all real ones): a carriage return is left out, as
        // `\r\n` is one Character.
        if isOneCharacterPerByte(text.utf8) {
            var bytes: [Token<UInt8>] = []
            for token in tokens {
                switch token {
                case .literal(let character): bytes.append(.literal(character.asciiValue!))
                case .star: bytes.append(.star)
                case .doubleStar: bytes.append(.doubleStar)
                case .anyIdentity: bytes.append(.anyIdentity)
                }
            }
            let wildcard: (Token<UInt8>) -> Bool = { if case .literal = $0 { return false } else { return true } }
            let first = bytes.firstIndex(where: wildcard) ?? bytes.count
            let last = bytes.lastIndex(where: wildcard).map { $0 + 1 } ?? bytes.count
            let literal: (Token<UInt8>) -> UInt8 = { if case .literal(let byte) = $0 { return byte } else { return 0 } }
            byteForm = ByteForm(tokens: bytes, head: bytes[..<first].map(literal),
                                tail: first == bytes.count ? [] : bytes[last...].map(literal))
        } else {
            byteForm = nil
        }
    }

    public static func == (a: PathPattern, b: PathPattern) -> Bool { a.text == b.text }

    /// The tokens over bytes, and the literal bytes before the first wildcard (`head`) and after
    /// the last (`tail`), which every matching path starts and ends with.
    struct ByteForm: Sendable {
        let tokens: [Token<UInt8>]
        let head: [UInt8]
        let tail: [UInt8]
    }

    let byteForm: ByteForm?

    public var description: String { text }

    /// Whether the whole path matches.
    ///
    /// Dynamic programming over the path's characters, one pass per token: no recursion (a
    /// pattern of 300,000 `*` overflowed the stack of the recursive matcher) and time in
    /// tokens × characters.
    public func matches(_ path: String) -> Bool {
        if let byteForm {
            var path = path
            let result: Bool? = path.withUTF8 { bytes in
                // An ASCII path without `\r` has one Character per byte.
                guard isOneCharacterPerByte(bytes) else { return nil }
                return Self.matches(byteForm, bytes)
            }
            if let result { return result }
            // A non-ASCII path never matches an ASCII pattern's literals byte for byte, but a
            // `*` may span it: the Character matcher decides.
        }
        return matchesCharacters(path)
    }

    /// `matches` over bytes: the head and tail first (they rule out most rules for a path without
    /// the dynamic programming: a policy of 100 rules over 500,000 changed paths took 40 s), then
    /// the same dynamic programming as over Characters.
    static func matches(_ form: ByteForm, _ path: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = path.count
        guard count >= form.head.count, count >= form.tail.count,
              path.prefix(form.head.count).elementsEqual(form.head),
              path.suffix(form.tail.count).elementsEqual(form.tail)
        else { return false }
        if form.head.count == form.tokens.count { return count == form.head.count }
        return Self.matches(form.tokens, path, dot: UInt8(ascii: "."), open: UInt8(ascii: "["), close: UInt8(ascii: "]"))
    }

    func matchesCharacters(_ path: String) -> Bool {
        Self.matches(tokens, Array(path), dot: ".", open: "[", close: "]")
    }

    /// The dynamic programming of `matches`, over Characters or bytes: `reachable[c]` says the
    /// tokens so far can match `path[..<c]`.
    static func matches<Path: RandomAccessCollection>(_ tokens: [Token<Path.Element>], _ path: Path,
                                                      dot: Path.Element, open: Path.Element, close: Path.Element) -> Bool
        where Path.Index == Int, Path.Element: Equatable & Sendable
    {
        let count = path.count
        return withUnsafeTemporaryAllocation(of: Bool.self, capacity: 2 * (count + 1)) { buffer -> Bool in
            var reachable = UnsafeMutableBufferPointer(rebasing: buffer[0...count])
            var next = UnsafeMutableBufferPointer(rebasing: buffer[(count + 1)...])
            reachable.initialize(repeating: false)
            next.initialize(repeating: false)
            reachable[0] = true
            for token in tokens {
                for index in 0...count { next[index] = false }
                var any = false
                switch token {
                case .literal(let expected):
                    for c in 0..<count where reachable[c] && path[path.startIndex + c] == expected {
                        next[c + 1] = true
                        any = true
                    }
                case .star:
                    var running = false
                    for c in 0...count {
                        if reachable[c] { running = true }
                        if running { next[c] = true; any = true }
                        if c < count && (path[path.startIndex + c] == dot || path[path.startIndex + c] == open) { running = false }
                    }
                case .doubleStar:
                    if let first = reachable.firstIndex(of: true) {
                        for c in first...count { next[c] = true }
                        any = true
                    }
                case .anyIdentity:
                    for c in 0..<count where reachable[c] && path[path.startIndex + c] == open {
                        var depth = 0
                        var end = c
                        while end < count {
                            let unit = path[path.startIndex + end]
                            if unit == open { depth += 1 }
                            if unit == close { depth -= 1; if depth == 0 { break } }
                            end += 1
                        }
                        if end < count { next[end + 1] = true; any = true }
                    }
                }
                if !any { return false }
                swap(&reachable, &next)
            }
            return reachable[count]
        }
    }
}
/// Patterns tried in order, found by the literal text before their first wildcard (`head`): for a
/// path, only the patterns whose head the path starts with are tried, so a policy of 10,000 rules
/// for named packages costs a few look-ups per changed path, not 10,000 tries (a 10,000-rule policy
/// over 560,000 changes would have taken minutes). Gives the same answer as trying each pattern in
/// order with `matches`.
public struct PathPatternIndex: Sendable {
    let patterns: [PathPattern]
    /// A trie of the ASCII patterns' heads: per node, its children (byte, node) and the indices
    /// of the patterns whose head ends there, ascending. Node 0 is the empty head.
    private var children: [[(byte: UInt8, node: Int32)]] = [[]]
    private var ending: [[Int]] = [[]]
    /// Patterns matched over Characters only (not ASCII): tried for every path.
    private var others: [Int] = []
    static let depth = 64

    public init(_ patterns: [PathPattern]) {
        self.patterns = patterns
        for (index, pattern) in patterns.enumerated() {
            guard let form = pattern.byteForm else {
                others.append(index)
                continue
            }
            var node = 0
            // At most `depth` bytes deep (a pattern may be 1,024 bytes long, and a policy hold
            // 10,000): the path must start with these; `matches` checks the rest.
            for byte in form.head.prefix(PathPatternIndex.depth) {
                if let child = children[node].first(where: { $0.byte == byte }) {
                    node = Int(child.node)
                } else {
                    children.append([])
                    ending.append([])
                    children[node].append((byte, Int32(children.count - 1)))
                    node = children.count - 1
                }
            }
            ending[node].append(index)
        }
    }

    /// The index of the first pattern that matches `path`, as `patterns.firstIndex { $0.matches(path) }`.
    public func firstMatch(_ path: String) -> Int? {
        var path = path
        return path.withUTF8 { bytes -> Int? in
            guard isOneCharacterPerByte(bytes) else {
                // Characters, not bytes: every pattern in order.
                let text = String(decoding: bytes, as: UTF8.self)
                return patterns.indices.first { patterns[$0].matches(text) }
            }
            // The patterns whose head the path starts with: the others cannot match.
            var candidates = others
            candidates += ending[0]
            var node = 0
            for byte in bytes {
                guard let child = children[node].first(where: { $0.byte == byte }) else { break }
                node = Int(child.node)
                candidates += ending[node]
            }
            if candidates.count > 1 { candidates.sort() }
            return patterns.withUnsafeBufferPointer { patterns -> Int? in
                for index in candidates {
                    if let form = patterns[index].byteForm {
                        if PathPattern.matches(form, bytes) { return index }
                    } else if patterns[index].matchesCharacters(String(decoding: bytes, as: UTF8.self)) {
                        return index
                    }
                }
                return nil
            }
        }
    }
}
