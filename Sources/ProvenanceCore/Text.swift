/// Small text helpers the parsers share (no Foundation).
extension StringProtocol {
    /// The string without leading and trailing characters made of the given set's scalars
    /// (so `"\r\n"`, one Character, is trimmed when both scalars are in the set).
    public func trimmingCharacters(in set: String) -> String {
        let scalars = Set(set.unicodeScalars)
        let drop: (Character) -> Bool = { $0.unicodeScalars.allSatisfy(scalars.contains) }
        guard let start = firstIndex(where: { !drop($0) }) else { return "" }
        let end = lastIndex(where: { !drop($0) })!
        return String(self[start...end])
    }

    /// Trimmed of spaces, tabs, carriage returns and newlines.
    public var trimmed: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }

    /// The lines of a text file: split at `\n` (a `\r\n` pair counts as one break), without the
    /// line breaks. A final line break does not make an extra empty line.
    public var lines: [String] {
        var result: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            if scalar == "\n" {
                if current.last == "\r" { current.removeLast() }
                result.append(String(current))
                current = String.UnicodeScalarView()
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { result.append(String(current)) }
        return result
    }
}
