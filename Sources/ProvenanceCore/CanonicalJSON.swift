/// JSON serialisation in the canonical form of RFC 8785 (JSON Canonicalization Scheme), and a
/// pretty form with the same key order and string forms for files people read.
///
/// - Object keys are sorted by their UTF-16 code units.
/// - Strings escape only `"`, `\` and control characters (`\b \t \n \f \r`, else `\u00xx`).
/// - Numbers use the ECMAScript `Number.prototype.toString` form. Integers are written exactly;
///   manifests keep them within ±2^53, where this is the RFC 8785 form too.
public enum CanonicalJSON {
    /// The canonical bytes: no insignificant whitespace. This is what gets hashed.
    public static func serialize(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(value, into: &out, indent: nil, level: 0)
        return out
    }

    /// Appends the canonical bytes to `out`.
    public static func serialize(_ value: JSONValue, into out: inout [UInt8]) {
        write(value, into: &out, indent: nil, level: 0)
    }

    public static func string(_ value: JSONValue) -> String {
        String(decoding: serialize(value), as: UTF8.self)
    }

    /// Two-space indented, same order and forms as the canonical bytes, newline-terminated.
    public static func pretty(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8192)
        write(value, into: &out, indent: 2, level: 0)
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// The pretty form of a value nested `level` deep (no final newline): pieces of a large pretty
    /// document written one at a time come out as `pretty` writes the whole.
    public static func pretty(_ value: JSONValue, level: Int, into out: inout [UInt8]) {
        write(value, into: &out, indent: 2, level: level)
    }

    /// The canonical bytes of an object with these keys, whose values `value` appends (each as
    /// `serialize(_:into:)` would), as `serialize` writes the whole object: a large value written
    /// already, on another thread, is appended, not written again.
    public static func serializeObject(keys: [String], into out: inout [UInt8],
                                       value: (String, inout [UInt8]) -> Void) {
        writeObject(keys: keys, into: &out, indent: nil, level: 0, value: value)
    }

    /// The pretty form of an object nested `level` deep with these keys, whose values `value`
    /// appends (each as `pretty(_:level: level + 1, into:)` would), as `pretty(_:level:into:)`
    /// writes the whole object.
    public static func prettyObject(keys: [String], level: Int, into out: inout [UInt8],
                                    value: (String, inout [UInt8]) -> Void) {
        writeObject(keys: keys, into: &out, indent: 2, level: level, value: value)
    }

    /// `write` of an object given by its keys, each member's value appended by `value`.
    private static func writeObject(keys: [String], into out: inout [UInt8], indent: Int?, level: Int,
                                    value: (String, inout [UInt8]) -> Void) {
        out.append(UInt8(ascii: "{"))
        if keys.isEmpty { out.append(UInt8(ascii: "}")); return }
        for (i, key) in keys.sorted(by: precedesInUTF16Order).enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            newline(&out, indent, level + 1)
            writeString(key, into: &out)
            out.append(UInt8(ascii: ":"))
            if indent != nil { out.append(UInt8(ascii: " ")) }
            value(key, &out)
        }
        newline(&out, indent, level)
        out.append(UInt8(ascii: "}"))
    }

    /// The canonical bytes (`serialize`) and the pretty form nested `level` deep (`pretty(_:level:
    /// into:)`) of one value, in one walk: each object's keys sorted once, for both.
    public static func serializeAndPretty(_ value: JSONValue, level: Int, canonical: inout [UInt8],
                                          pretty: inout [UInt8]) {
        func appendToBoth(_ byte: UInt8) {
            canonical.append(byte)
            pretty.append(byte)
        }
        switch value {
        case .null, .bool, .int, .double, .string:
            let start = canonical.count
            write(value, into: &canonical, indent: nil, level: 0)
            pretty.append(contentsOf: canonical[start...])
        case .array(let elements):
            appendToBoth(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { appendToBoth(UInt8(ascii: ",")) }
                newline(&pretty, 2, level + 1)
                serializeAndPretty(element, level: level + 1, canonical: &canonical, pretty: &pretty)
            }
            if !elements.isEmpty { newline(&pretty, 2, level) }
            appendToBoth(UInt8(ascii: "]"))
        case .object(let members):
            appendToBoth(UInt8(ascii: "{"))
            for (i, member) in members.sorted(by: { precedesInUTF16Order($0.key, $1.key) }).enumerated() {
                if i > 0 { appendToBoth(UInt8(ascii: ",")) }
                newline(&pretty, 2, level + 1)
                let start = canonical.count
                writeString(member.key, into: &canonical)
                pretty.append(contentsOf: canonical[start...])
                canonical.append(UInt8(ascii: ":"))
                pretty.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
                serializeAndPretty(member.value, level: level + 1, canonical: &canonical, pretty: &pretty)
            }
            if !members.isEmpty { newline(&pretty, 2, level) }
            appendToBoth(UInt8(ascii: "}"))
        }
    }

    /// Sorts keys the RFC 8785 way: by UTF-16 code units.
    public static func sortedKeys(_ object: [String: JSONValue]) -> [String] {
        object.keys.sorted(by: precedesInUTF16Order)
    }

    /// Whether `a` sorts before `b` by UTF-16 code units (RFC 8785 section 3.2.3).
    ///
    /// Compares UTF-8 bytes, which order as code points do, and code points order as UTF-16 code
    /// units do except one case: a character above U+FFFF (a surrogate pair in UTF-16, from
    /// D800) sorts before one in U+E000–U+FFFF in UTF-16 and after it in code points. The two
    /// strings first differ at the lead bytes of such a pair (0xF0–0xF4 against 0xEE/0xEF), so
    /// that one comparison is turned around. Transcoding both keys to UTF-16 for every comparison
    /// was most of the time spent sorting a manifest's keys.
    public static func precedesInUTF16Order(_ a: String, _ b: String) -> Bool {
        let fast = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in precedesInUTF16Order(utf8: x, y) }
        }
        if let fast, let result = fast { return result }
        return a.utf16.lexicographicallyPrecedes(b.utf16)
    }

    /// `precedesInUTF16Order` on the UTF-8 bytes of two strings.
    static func precedesInUTF16Order(utf8 x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        let count = min(x.count, y.count)
        var index = 0
        while index < count && x[index] == y[index] { index += 1 }
        guard index < count else { return x.count < y.count }
        let p = x[index]
        let q = y[index]
        if p >= 0xF0 && (q == 0xEE || q == 0xEF) { return true }
        if q >= 0xF0 && (p == 0xEE || p == 0xEF) { return false }
        return p < q
    }

    private static func newline(_ out: inout [UInt8], _ indent: Int?, _ level: Int) {
        guard let indent else { return }
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
    }

    private static func write(_ value: JSONValue, into out: inout [UInt8], indent: Int?, level: Int) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): writeInteger(i, into: &out)
        case .double(let d): out.append(contentsOf: formatNumber(d).utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            if elements.isEmpty { out.append(UInt8(ascii: "]")); return }
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent, level + 1)
                write(element, into: &out, indent: indent, level: level + 1)
            }
            newline(&out, indent, level)
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            if members.isEmpty { out.append(UInt8(ascii: "}")); return }
            // The members themselves are sorted: looking each key up again cost a hash per key.
            for (i, member) in members.sorted(by: { precedesInUTF16Order($0.key, $1.key) }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(&out, indent, level + 1)
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                if indent != nil { out.append(UInt8(ascii: " ")) }
                write(member.value, into: &out, indent: indent, level: level + 1)
            }
            newline(&out, indent, level)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The decimal digits of `value`, as `String(value)` writes them, without making a string.
    static func writeInteger(_ value: Int64, into out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for UInt64's 20 digits
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(24 - count)...]))
        }
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            // Runs that need no escape are copied whole.
            var start = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if start < index { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index])) }
                start = index + 1
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
                case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
                case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
                case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
                case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                default:
                    out.append(contentsOf: "\\u00".utf8)
                    out.append(hexDigits[Int(byte >> 4)])
                    out.append(hexDigits[Int(byte & 0xF)])
                }
            }
            if start < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...])) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// ECMAScript `Number.prototype.toString` for a finite double (RFC 8785 section 3.2.2.3).
    public static func formatNumber(_ value: Double) -> String {
        precondition(value.isFinite, "JSON has no NaN or infinity")
        if value == 0 { return "0" }
        let sign = value < 0 ? "-" : ""
        // Swift's description is the shortest round-tripping decimal, as ECMAScript requires.
        let (digits, pointPosition) = decimalDigits(of: value.magnitude.description)
        let k = digits.count
        let n = pointPosition
        let body: String
        if k <= n && n <= 21 {
            body = digits + String(repeating: "0", count: n - k)
        } else if 0 < n && n <= 21 {
            body = String(digits.prefix(n)) + "." + String(digits.dropFirst(n))
        } else if -6 < n && n <= 0 {
            body = "0." + String(repeating: "0", count: -n) + digits
        } else {
            let exponent = n - 1
            let exponentText = (exponent < 0 ? "-" : "+") + String(exponent.magnitude)
            let mantissa = k == 1 ? digits : String(digits.prefix(1)) + "." + String(digits.dropFirst())
            body = mantissa + "e" + exponentText
        }
        return sign + body
    }

    /// Splits "1.25e-07" / "120.5" / "5e+20" into significant digits and the position of the
    /// decimal point relative to them (value = 0.DIGITS × 10^position).
    private static func decimalDigits(of text: String) -> (String, Int) {
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        var integerPart = mantissa
        var fraction: Substring = ""
        if let dot = mantissa.firstIndex(of: ".") {
            integerPart = mantissa[..<dot]
            fraction = mantissa[mantissa.index(after: dot)...]
        }
        var digits = String(integerPart) + String(fraction)
        var position = integerPart.count + exponent
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            position -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        return (digits, position)
    }
}
