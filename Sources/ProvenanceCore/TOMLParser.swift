/// TOML 1.0 → JSON value, for `run --config FILE.toml`.
///
/// Written by hand: no TOML library for Swift can be had here (the workplace reaches package
/// registries, not GitHub, and SwiftPM resolves from GitHub); this is about 200 lines and is
/// checked against Python's `tomllib` on real TOML files in the tests. Dates and times are kept
/// as their text (JSON has no date type). Limits: 10 MiB, nesting 128.
public enum TOMLParser {
    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static func parse(_ text: String) throws(Error) -> JSONValue {
        var parser = Parser(bytes: Array(text.utf8))
        return try parser.document()
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var root: [String: JSONValue] = [:]
        /// The table the following key/value lines go into.
        var current: [String] = []
        var depth = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        var line: Int { bytes[..<min(index, bytes.count)].filter { $0 == 0x0A }.count + 1 }
        func fail(_ message: String) -> Error { Error(description: "line \(line): \(message)") }
        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func document() throws(Error) -> JSONValue {
            guard bytes.count <= 10 << 20 else { throw Error(description: "larger than 10 MiB") }
            while true {
                skipBlank(newlines: true)
                guard let byte = peek else { break }
                if byte == UInt8(ascii: "[") {
                    let array = index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "[")
                    index += array ? 2 : 1
                    skipBlank(newlines: false)
                    let path = try key()
                    skipBlank(newlines: false)
                    guard expect("]") && (!array || expect("]")) else { throw fail("expected ] after a table name") }
                    try openTable(path, array: array)
                    current = path
                    if array { current.append("\u{0}last") }
                } else {
                    let path = try key()
                    skipBlank(newlines: false)
                    guard expect("=") else { throw fail("expected = after a key") }
                    skipBlank(newlines: false)
                    let item = try value()
                    try insert(item, at: current + path)
                }
                skipBlank(newlines: false)
                if let byte = peek, byte != 0x0A && byte != 0x0D { throw fail("unexpected text after a value") }
            }
            return .object(root)
        }

        mutating func expect(_ character: Character) -> Bool {
            guard peek == character.asciiValue else { return false }
            index += 1
            return true
        }

        mutating func skipBlank(newlines: Bool) {
            while let byte = peek {
                if byte == 0x20 || byte == 0x09 || (newlines && (byte == 0x0A || byte == 0x0D)) {
                    index += 1
                } else if byte == UInt8(ascii: "#") {
                    while let next = peek, next != 0x0A { index += 1 }
                } else {
                    return
                }
            }
        }

        /// A dotted key: bare (`A-Za-z0-9_-`) or quoted parts.
        mutating func key() throws(Error) -> [String] {
            var parts: [String] = []
            repeat {
                skipBlank(newlines: false)
                if peek == UInt8(ascii: "\"") || peek == UInt8(ascii: "'") {
                    guard case .string(let text) = try string() else { throw fail("bad key") }
                    parts.append(text)
                } else {
                    let start = index
                    while let byte = peek, (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte)
                        || (0x61...0x7A).contains(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
                    {
                        index += 1
                    }
                    guard index > start else { throw fail("expected a key") }
                    parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
                }
                skipBlank(newlines: false)
            } while expect(".")
            return parts
        }

        mutating func openTable(_ path: [String], array: Bool) throws(Error) {
            if array {
                try modify(path.dropLast()[...], create: true) { (object: inout [String: JSONValue]) throws(Error) in
                    let name = path.last!
                    switch object[name] {
                    case nil: object[name] = .array([.object([:])])
                    case .array(var items)?:
                        items.append(.object([:]))
                        object[name] = .array(items)
                    default: throw Error(description: "\(path.joined(separator: ".")) is not an array of tables")
                    }
                }
            } else {
                try modify(path[...], create: true) { (_: inout [String: JSONValue]) throws(Error) in }
            }
        }

        mutating func insert(_ item: JSONValue, at path: [String]) throws(Error) {
            try modify(path.dropLast()[...], create: true) { (object: inout [String: JSONValue]) throws(Error) in
                guard object[path.last!] == nil else { throw Error(description: "key \(path.joined(separator: ".")) is defined twice") }
                object[path.last!] = item
            }
        }

        /// Applies `change` to the table at `path` (creating tables on the way; `\0last` and an
        /// array of tables descend into its last element).
        mutating func modify(_ path: ArraySlice<String>, create: Bool,
                             _ change: (inout [String: JSONValue]) throws(Error) -> Void) throws(Error)
        {
            let steps = Array(path).filter { $0 != "\u{0}last" }
            func descend(_ object: inout [String: JSONValue], _ rest: ArraySlice<String>) throws(Error) {
                guard let name = rest.first else { return try change(&object) }
                switch object[name] {
                case nil:
                    var child: [String: JSONValue] = [:]
                    try descend(&child, rest.dropFirst())
                    object[name] = .object(child)
                case .object(var child)?:
                    try descend(&child, rest.dropFirst())
                    object[name] = .object(child)
                case .array(var items)?:
                    guard case .object(var last)? = items.last else { throw Error(description: "\(name) is not a table") }
                    try descend(&last, rest.dropFirst())
                    items[items.count - 1] = .object(last)
                    object[name] = .array(items)
                default:
                    throw Error(description: "\(name) is not a table")
                }
            }
            try descend(&root, steps[...])
        }

        mutating func value() throws(Error) -> JSONValue {
            guard let byte = peek else { throw fail("expected a value") }
            depth += 1
            defer { depth -= 1 }
            guard depth <= 128 else { throw fail("nested deeper than 128") }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"): return try string()
            case UInt8(ascii: "["):
                index += 1
                var items: [JSONValue] = []
                while true {
                    skipBlank(newlines: true)
                    if expect("]") { return .array(items) }
                    items.append(try value())
                    skipBlank(newlines: true)
                    if expect("]") { return .array(items) }
                    guard expect(",") else { throw fail("expected , or ] in an array") }
                }
            case UInt8(ascii: "{"):
                index += 1
                var table: [String: JSONValue] = [:]
                skipBlank(newlines: false)
                if expect("}") { return .object(table) }
                while true {
                    let path = try key()
                    guard expect("=") else { throw fail("expected = in an inline table") }
                    skipBlank(newlines: false)
                    let item = try value()
                    var nested = Parser(bytes: [])
                    nested.root = table
                    try nested.insert(item, at: path)
                    table = nested.root
                    skipBlank(newlines: false)
                    if expect("}") { return .object(table) }
                    guard expect(",") else { throw fail("expected , or } in an inline table") }
                    skipBlank(newlines: false)
                }
            default:
                let start = index
                while let next = peek, ![0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"),
                                         UInt8(ascii: "#")].contains(next)
                {
                    index += 1
                }
                // A date-time may have one space between date and time.
                if peek == 0x20, index - start == 10, index + 1 < bytes.count, (0x30...0x39).contains(bytes[index + 1]) {
                    index += 1
                    while let next = peek, ![0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"),
                                             UInt8(ascii: "#")].contains(next) { index += 1 }
                }
                return try scalar(String(decoding: bytes[start..<index], as: UTF8.self))
            }
        }

        func scalar(_ word: String) throws(Error) -> JSONValue {
            switch word {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "inf", "+inf", "-inf", "nan", "+nan", "-nan": return .string(word)
            default: break
            }
            let plain = word.filter { $0 != "_" }
            for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where plain.hasPrefix(prefix) {
                guard let number = Int64(plain.dropFirst(2), radix: radix) else { throw fail("bad number '\(word)'") }
                return .int(number)
            }
            if let number = Int64(plain) { return .int(number) }
            if plain.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let number = Double(plain) { return .double(number) }
            // Dates and times (1979-05-27, 07:32:00, 1979-05-27T07:32:00Z): kept as text.
            if let first = word.first, first.isNumber, word.contains("-") || word.contains(":") { return .string(word) }
            throw fail("unknown value '\(word)'")
        }

        mutating func string() throws(Error) -> JSONValue {
            let quote = bytes[index]
            let literal = quote == UInt8(ascii: "'")
            let multiline = index + 2 < bytes.count && bytes[index + 1] == quote && bytes[index + 2] == quote
            index += multiline ? 3 : 1
            if multiline, peek == 0x0A { index += 1 } else if multiline, peek == 0x0D, index + 1 < bytes.count, bytes[index + 1] == 0x0A {
                index += 2
            }
            var out: [UInt8] = []
            while true {
                guard let byte = peek else { throw fail("unterminated string") }
                if byte == quote {
                    if !multiline { index += 1; break }
                    if index + 2 < bytes.count && bytes[index + 1] == quote && bytes[index + 2] == quote {
                        index += 3
                        // Up to two more quotes belong to the string (`""""a""""`).
                        var extra = 0
                        while peek == quote && extra < 2 {
                            out.append(quote)
                            index += 1
                            extra += 1
                        }
                        break
                    }
                }
                if byte == 0x0A && !multiline { throw fail("newline in a string") }
                if byte == UInt8(ascii: "\\") && !literal {
                    index += 1
                    guard let escaped = peek else { throw fail("unterminated string") }
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "e"): out.append(0x1B)
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(escaped)
                    case UInt8(ascii: "u"), UInt8(ascii: "U"):
                        let count = escaped == UInt8(ascii: "u") ? 4 : 8
                        guard index + count <= bytes.count,
                              let code = UInt32(String(decoding: bytes[index..<index + count], as: UTF8.self), radix: 16),
                              let scalar = Unicode.Scalar(code)
                        else { throw fail("bad \\u escape") }
                        out += Array(String(Character(scalar)).utf8)
                        index += count
                    case 0x0A, 0x0D, 0x20, 0x09:
                        // A line-ending backslash (multi-line strings only) trims the newline and the
                        // whitespace after it.
                        guard multiline else { throw fail("a backslash before whitespace outside a multi-line string") }
                        while let next = peek, [0x0A, 0x0D, 0x20, 0x09].contains(next) { index += 1 }
                    default: throw fail("unknown escape \\\(Character(Unicode.Scalar(escaped)))")
                    }
                    continue
                }
                out.append(byte)
                index += 1
            }
            return .string(String(decoding: out, as: UTF8.self))
        }
    }
}
