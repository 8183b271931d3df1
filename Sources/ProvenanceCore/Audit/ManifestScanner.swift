#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds a manifest's envelope fields and each section's `status` and `data` as byte ranges,
/// without building the document: the audit's fast path over thousands of manifests.
///
/// Only the structure is followed (strings, nesting); a section's data is parsed and checked in
/// full by `JSONParser` the first time its exact bytes are seen, so identical bytes seen again
/// are known to be valid.
struct ManifestScanner {
    struct Scanned {
        var schemaVersion: JSONValue?
        var hostName: JSONValue?
        var sections: [(id: String, status: JSONValue?, data: Range<Int>?)] = []
        var hasSections = false
    }

    struct Failure: Error { let message: String }

    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    static func scan(_ bytes: [UInt8]) throws(ManifestReader.Error) -> Scanned {
        do {
            return try bytes.withUnsafeBufferPointer { buffer throws(Failure) in
                var scanner = ManifestScanner(buffer)
                return try scanner.manifest()
            }
        } catch {
            throw ManifestReader.Error(description: "not a manifest: \(error.message)")
        }
    }

    mutating func skipSpace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    mutating func expect(_ byte: UInt8) throws(Failure) {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else {
            throw Failure(message: "expected '\(Character(Unicode.Scalar(byte)))' at byte \(index)")
        }
        index += 1
    }

    /// Skips a string (at its opening quote); returns its range, quotes included.
    mutating func string() throws(Failure) -> Range<Int> {
        skipSpace()
        let start = index
        guard index < bytes.count, bytes[index] == 0x22 else { throw Failure(message: "expected a string at byte \(index)") }
        index += 1
        guard let base = bytes.baseAddress else { throw Failure(message: "unterminated string") }
        while index < bytes.count {
            // The next quote (memchr: the scanner's hot loop), escaped when preceded by an odd
            // number of backslashes.
            guard let found = memchr(base + index, 0x22, bytes.count - index) else { break }
            let quote = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            var backslashes = 0
            while quote - 1 - backslashes > start, bytes[quote - 1 - backslashes] == 0x5C { backslashes += 1 }
            index = quote + 1
            if backslashes % 2 == 0 { return start..<index }
        }
        throw Failure(message: "unterminated string")
    }

    /// Skips any value; returns its range.
    mutating func value() throws(Failure) -> Range<Int> {
        skipSpace()
        let start = index
        guard index < bytes.count else { throw Failure(message: "unexpected end") }
        switch bytes[index] {
        case 0x22:
            return try string()
        case 0x7B, 0x5B:
            var depth = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 0x22 { _ = try string(); continue }
                index += 1
                if byte == 0x7B || byte == 0x5B { depth += 1 }
                if byte == 0x7D || byte == 0x5D {
                    depth -= 1
                    if depth == 0 { return start..<index }
                }
            }
            throw Failure(message: "unterminated object or array")
        default:
            while index < bytes.count {
                let byte = bytes[index]
                if byte == 0x2C || byte == 0x7D || byte == 0x5D || byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { break }
                index += 1
            }
            guard index > start else { throw Failure(message: "expected a value at byte \(index)") }
            return start..<index
        }
    }

    func parse(_ range: Range<Int>) throws(Failure) -> JSONValue {
        do {
            return try JSONParser.parse(UnsafeBufferPointer(rebasing: bytes[range]))
        } catch {
            throw Failure(message: "\(error)")
        }
    }

    func key(_ range: Range<Int>) throws(Failure) -> String {
        let inner = bytes[(range.lowerBound + 1)..<(range.upperBound - 1)]
        if !inner.contains(0x5C) { return String(decoding: inner, as: UTF8.self) }
        return try parse(range).stringValue ?? ""
    }

    /// Walks the members of an object, calling `body` with each key at its value.
    mutating func members(_ body: (inout ManifestScanner, String) throws(Failure) -> Void) throws(Failure) {
        try expect(0x7B)
        skipSpace()
        if index < bytes.count, bytes[index] == 0x7D { index += 1; return }
        while true {
            let name = try key(try string())
            try expect(0x3A)
            try body(&self, name)
            skipSpace()
            guard index < bytes.count else { throw Failure(message: "unexpected end") }
            if bytes[index] == 0x2C { index += 1; continue }
            if bytes[index] == 0x7D { index += 1; return }
            throw Failure(message: "expected ',' or '}' at byte \(index)")
        }
    }

    mutating func manifest() throws(Failure) -> Scanned {
        var result = Scanned()
        skipSpace()
        guard index < bytes.count, bytes[index] == 0x7B else { throw Failure(message: "the document is not an object") }
        try members { (scanner: inout ManifestScanner, name: String) throws(Failure) in
            switch name {
            case "schemaVersion": result.schemaVersion = try scanner.parse(try scanner.value())
            case "hostName": result.hostName = try scanner.parse(try scanner.value())
            case "sections":
                result.hasSections = true
                scanner.skipSpace()
                guard scanner.index < scanner.bytes.count, scanner.bytes[scanner.index] == 0x7B else {
                    throw Failure(message: "no \"sections\" object")
                }
                try scanner.members { (scanner: inout ManifestScanner, id: String) throws(Failure) in
                    var status: JSONValue?
                    var data: Range<Int>?
                    scanner.skipSpace()
                    guard scanner.index < scanner.bytes.count, scanner.bytes[scanner.index] == 0x7B else {
                        throw Failure(message: "section \"\(id.prefix(60))\" has no \"status\" string")
                    }
                    try scanner.members { (scanner: inout ManifestScanner, field: String) throws(Failure) in
                        switch field {
                        case "status": status = try scanner.parse(try scanner.value())
                        case "data":
                            let range = try scanner.value()
                            if scanner.bytes[range.lowerBound] != 0x7B && scanner.bytes[range.lowerBound] != 0x6E {
                                throw Failure(message: "section \"\(id.prefix(60))\" has data that is not an object")
                            }
                            data = range
                        default: _ = try scanner.value()
                        }
                    }
                    guard status?.stringValue != nil else {
                        throw Failure(message: "section \"\(id.prefix(60))\" has no \"status\" string")
                    }
                    result.sections.append((id, status, data))
                }
            default: _ = try scanner.value()
            }
        }
        return result
    }
}
