/// Small text helpers the parsers share (no Foundation).

/// Whether UTF-8 bytes hold one Character per byte: ASCII without CR (`\r\n` is one Character).
/// Such text can be matched and trimmed on its bytes by the Character rules.
public func isOneCharacterPerByte<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
    // On the contiguous bytes where there are: other modules call this unspecialized, and
    // `contains` through the generic iterator was most of its time.
    bytes.withContiguousStorageIfAvailable(isOneCharacterPerByte(buffer:)) ?? !bytes.contains { $0 >= 0x80 || $0 == 0x0D }
}

private func isOneCharacterPerByte(buffer: UnsafeBufferPointer<UInt8>) -> Bool {
    !buffer.contains { $0 >= 0x80 || $0 == 0x0D }
}

extension StringProtocol {
    /// The string without leading and trailing characters made of the given set's scalars
    /// (so `"\r\n"`, one Character, is trimmed when both scalars are in the set).
    public func trimmingCharacters(in set: String) -> String {
        // Bytes when text and set are ASCII and the text has no CR (so each byte is a character):
        // parsers trim every line, and the character path was a fifth of the cpu probe.
        if set.utf8.allSatisfy({ $0 < 0x80 }) {
            var members = (low: UInt64(0), high: UInt64(0))
            for byte in set.utf8 {
                if byte < 64 { members.low |= 1 << byte } else { members.high |= 1 << (byte - 64) }
            }
            let dropped = { (byte: UInt8) -> Bool in
                byte < 64 ? members.low & (1 << byte) != 0 : members.high & (1 << (byte - 64)) != 0
            }
            if let trimmed = utf8.withContiguousStorageIfAvailable({ bytes -> String? in
                isOneCharacterPerByte(buffer: bytes) ? trimmedBytes(bytes, drop: dropped) : nil
            }) {
                if let trimmed { return trimmed }
            } else if isOneCharacterPerByte(utf8) {
                return trimmedBytes(dropped)
            }
        }
        return trimmingCharactersByCharacters(in: set)
    }

    /// `trimmingCharacters(in:)` on characters: any text, and the reference the byte path is
    /// tested against.
    func trimmingCharactersByCharacters(in set: String) -> String {
        let scalars = Set(set.unicodeScalars)
        let drop: (Character) -> Bool = { $0.unicodeScalars.allSatisfy(scalars.contains) }
        guard let start = firstIndex(where: { !drop($0) }) else { return "" }
        let end = lastIndex(where: { !drop($0) })!
        return String(self[start...end])
    }

    /// Trimmed of spaces, tabs, carriage returns and newlines.
    public var trimmed: String {
        // Bytes for ASCII text, where the only character of several bytes is `\r\n`, whose two
        // bytes are both trimmed as the character is. On the contiguous bytes where there are:
        // other modules call this unspecialized, and the generic iterator was most of its time.
        let space = { (byte: UInt8) -> Bool in byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        if let trimmed = utf8.withContiguousStorageIfAvailable({ bytes -> String? in
            bytes.allSatisfy({ $0 < 0x80 }) ? trimmedBytes(bytes, drop: space) : nil
        }) {
            return trimmed ?? trimmedByCharacters
        }
        if utf8.allSatisfy({ $0 < 0x80 }) {
            return trimmedBytes(space)
        }
        return trimmedByCharacters
    }

    /// `trimmed` on characters: any text, and the reference the byte path is tested against.
    var trimmedByCharacters: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }

    /// `trimmedBytes(_:)` on the text's contiguous bytes.
    private func trimmedBytes(_ bytes: UnsafeBufferPointer<UInt8>, drop: (UInt8) -> Bool) -> String {
        var start = 0
        var end = bytes.count
        while start < end && drop(bytes[start]) { start += 1 }
        while end > start && drop(bytes[end - 1]) { end -= 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// The text without the leading and trailing bytes `drop` says true for (ASCII text only:
    /// each byte then starts a character, or is the `\n` of a `\r\n` the caller drops whole).
    private func trimmedBytes(_ drop: (UInt8) -> Bool) -> String {
        let utf8 = self.utf8
        var start: String.Index?
        var end = utf8.startIndex
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let next = utf8.index(after: index)
            if !drop(utf8[index]) {
                if start == nil { start = index }
                end = next
            }
            index = next
        }
        guard let start else { return "" }
        return String(self[start..<end])
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

extension StringProtocol {
    /// The text with every byte that could command a terminal written out visibly: C0 controls
    /// (ESC, BEL, CR, newline, tab, ...), DEL and the C1 controls as `\x1b`-style escapes, and the
    /// bidirectional overrides (U+202A-U+202E, U+2066-U+2069) as `\u{202e}`. For data printed
    /// to a terminal (diff, verify, audit, errors): keys, host names, values, section ids.
    public var terminalSafe: String {
        guard unicodeScalars.contains(where: { isTerminalUnsafe($0) }) else { return String(self) }
        var out = ""
        for scalar in unicodeScalars {
            if scalar.value < 0x100 && isTerminalUnsafe(scalar) {
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            } else if isTerminalUnsafe(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

private func isTerminalUnsafe(_ scalar: Unicode.Scalar) -> Bool {
    let value = scalar.value
    return value < 0x20 || (0x7F...0x9F).contains(value) || (0x202A...0x202E).contains(value)
        || (0x2066...0x2069).contains(value)
}

extension String {
    /// The string, or `fallback` when it is empty.
    func nonEmptyOr(_ fallback: String) -> String { isEmpty ? fallback : self }
}
