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
        // Split on the UTF-8 bytes: `\n` and `\r` never occur inside a multi-byte character.
        var result: [String] = []
        let utf8 = self.utf8
        var start = utf8.startIndex
        var carriageReturn: String.Index?  // where a `\r` just before the current byte is
        var index = start
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == 0x0A {
                result.append(String(self[start..<(carriageReturn ?? index)]))
                start = utf8.index(after: index)
                carriageReturn = nil
                index = start
                continue
            }
            carriageReturn = byte == 0x0D ? index : nil
            index = utf8.index(after: index)
        }
        if start != utf8.endIndex { result.append(String(self[start..<utf8.endIndex])) }
        return result
    }
}

extension String {
    /// The string, or `fallback` when it is empty.
    func nonEmptyOr(_ fallback: String) -> String { isEmpty ? fallback : self }
}
