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
    public func matches(_ path: String) -> Bool {
        let characters = Array(path)
        var memo: [Int: Bool] = [:]
        func match(_ t: Int, _ c: Int) -> Bool {
            let key = t * (characters.count + 1) + c
            if let known = memo[key] { return known }
            let result: Bool
            if t == tokens.count {
                result = c == characters.count
            } else {
                switch tokens[t] {
                case .literal(let expected):
                    result = c < characters.count && characters[c] == expected && match(t + 1, c + 1)
                case .star:
                    var end = c
                    var found = match(t + 1, end)
                    while !found && end < characters.count && characters[end] != "." && characters[end] != "[" {
                        end += 1
                        found = match(t + 1, end)
                    }
                    result = found
                case .doubleStar:
                    result = (c...characters.count).contains { match(t + 1, $0) }
                case .anyIdentity:
                    guard c < characters.count, characters[c] == "[" else { result = false; break }
                    var depth = 0
                    var end = c
                    while end < characters.count {
                        if characters[end] == "[" { depth += 1 }
                        if characters[end] == "]" { depth -= 1; if depth == 0 { break } }
                        end += 1
                    }
                    result = end < characters.count && match(t + 1, end + 1)
                }
            }
            memo[key] = result
            return result
        }
        return match(0, 0)
    }
}
