/// A glob over diff paths (`gpu.nvidia.gpus[0000:3b:00.0].vbiosVersion`): `*` matches any run of
/// characters without `.` or `[`, `**` matches anything (dots and brackets included), `[*]` matches
/// any array identity; everything else matches itself.
public struct PathPattern: Sendable, Equatable, CustomStringConvertible {
    public let text: String
    private let tokens: [Token]

    enum Token: Equatable, Sendable {
        case literal(Character)
        case star        // within one segment
        case doubleStar  // across segments
        case anyIdentity // [*]
    }

    public init(_ text: String) {
        self.text = text
        var tokens: [Token] = []
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
    }

    public var description: String { text }

    /// Whether the whole path matches.
    ///
    /// Dynamic programming over the path's characters, one pass per token: no recursion (a
    /// pattern of 300,000 `*` overflowed the stack of the recursive matcher) and time in
    /// tokens × characters.
    public func matches(_ path: String) -> Bool {
        let characters = Array(path)
        let count = characters.count
        // reachable[c]: the tokens so far can match characters[..<c].
        var reachable = [Bool](repeating: false, count: count + 1)
        reachable[0] = true
        var next = reachable
        for token in tokens {
            for index in 0...count { next[index] = false }
            var any = false
            switch token {
            case .literal(let expected):
                for c in 0..<count where reachable[c] && characters[c] == expected {
                    next[c + 1] = true
                    any = true
                }
            case .star:
                var running = false
                for c in 0...count {
                    if reachable[c] { running = true }
                    if running { next[c] = true; any = true }
                    if c < count && (characters[c] == "." || characters[c] == "[") { running = false }
                }
            case .doubleStar:
                if let first = reachable.firstIndex(of: true) {
                    for c in first...count { next[c] = true }
                    any = true
                }
            case .anyIdentity:
                for c in 0..<count where reachable[c] && characters[c] == "[" {
                    var depth = 0
                    var end = c
                    while end < count {
                        if characters[end] == "[" { depth += 1 }
                        if characters[end] == "]" { depth -= 1; if depth == 0 { break } }
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
