import ProvenanceCore
import ProvenanceProbeKit

// Parsers of what batch schedulers and Kubernetes leave for a job: Kubernetes downward-API files,
// PBS node files, LSF host lists, Slurm memory values. Pure functions.

/// Parses a Kubernetes downward-API file of `metadata.labels` or `metadata.annotations`: one
/// `key="value"` per line, the value quoted as Go's `%q` does (`\"`, `\\`, `\n`, `\t`, `\uXXXX`).
/// Lines that are not of this form are returned as problems with their numbers.
public func parseDownwardAPIFile(_ text: String) -> (fields: [String: String], problems: [String]) {
    var fields: [String: String] = [:]
    var problems: [String] = []
    for (number, line) in text.lines.enumerated() where !line.trimmed.isEmpty {
        guard let equals = line.firstIndex(of: "="), equals != line.startIndex,
              let value = unquoteGoString(line[line.index(after: equals)...])
        else {
            problems.append("malformed line \(number + 1): '\(line.prefix(80))'")
            continue
        }
        fields[String(line[..<equals])] = value
    }
    return (fields, problems)
}

/// Unquotes a Go `%q` string literal; nil when it is not one.
func unquoteGoString(_ text: Substring) -> String? {
    let quoted = text.trimmed
    guard quoted.count >= 2, quoted.hasPrefix("\""), quoted.hasSuffix("\"") else { return nil }
    var result = String.UnicodeScalarView()
    var iterator = quoted.unicodeScalars.dropFirst().dropLast().makeIterator()
    while let scalar = iterator.next() {
        guard scalar == "\\" else {
            if scalar == "\"" { return nil }
            result.append(scalar)
            continue
        }
        guard let escaped = iterator.next() else { return nil }
        switch escaped {
        case "n": result.append("\n")
        case "t": result.append("\t")
        case "r": result.append("\r")
        case "\"", "\\", "'": result.append(escaped)
        case "a": result.append("\u{07}")
        case "b": result.append("\u{08}")
        case "f": result.append("\u{0C}")
        case "v": result.append("\u{0B}")
        case "x", "u", "U":
            let digits = escaped == "x" ? 2 : escaped == "u" ? 4 : 8
            var value: UInt32 = 0
            for _ in 0..<digits {
                guard let digit = iterator.next(), let number = UInt32(String(digit), radix: 16) else { return nil }
                value = value * 16 + number
            }
            guard let decoded = Unicode.Scalar(value) else { return nil }
            result.append(decoded)
        default:
            return nil
        }
    }
    return String(result)
}

/// The distinct host names of a host-per-slot list (a PBS node file, LSF's `LSB_HOSTS`), in
/// their first order, with the number of slots.
public func parseHostSlots<S: StringProtocol>(_ words: [S]) -> (hosts: [String], slots: Int) {
    var hosts: [String] = []
    var seen = Set<String>()
    var slots = 0
    for word in words {
        let host = word.trimmed
        guard !host.isEmpty else { continue }
        slots += 1
        if seen.insert(host).inserted { hosts.append(host) }
    }
    return (hosts, slots)
}

/// Parses LSF's `LSB_MCPU_HOSTS` (`hostA 4 hostB 2`) into hosts and the total slots; nil when
/// the words do not pair up.
public func parseLSFMultiCPUHosts(_ text: String) -> (hosts: [String], slots: Int)? {
    let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
    guard !words.isEmpty, words.count % 2 == 0 else { return nil }
    var hosts: [String] = []
    var slots = 0
    for index in stride(from: 0, to: words.count, by: 2) {
        guard let count = Int(words[index + 1]), count >= 0 else { return nil }
        if !hosts.contains(String(words[index])) { hosts.append(String(words[index])) }
        slots += count
    }
    return (hosts, slots)
}

/// A Slurm memory amount as its `SLURM_MEM_PER_*` variables state it (megabytes, or with a
/// `K`/`M`/`G`/`T` suffix) in bytes; nil when malformed.
public func parseSlurmMemory(_ text: String) -> Int64? {
    var value = text.trimmed.uppercased()
    var multiplier: Int64 = 1 << 20
    if let last = value.last, !last.isNumber {
        switch last {
        case "K": multiplier = 1 << 10
        case "M": multiplier = 1 << 20
        case "G": multiplier = 1 << 30
        case "T": multiplier = 1 << 40
        default: return nil
        }
        value.removeLast()
    }
    guard let amount = Int64(value), amount >= 0 else { return nil }
    let (bytes, overflow) = amount.multipliedReportingOverflow(by: multiplier)
    return overflow ? nil : bytes
}
