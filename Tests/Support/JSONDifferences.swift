import ProvenanceCore

/// The paths at which two JSON values differ, field by field (`cpu.data.modelName: "a" ≠ "b"`),
/// so a failing comparison says which fact differs, not only that two documents do.
public func jsonDifferences(_ left: JSONValue?, _ right: JSONValue?, path: String = "") -> [String] {
    switch (left, right) {
    case (.object(let a)?, .object(let b)?):
        return Set(a.keys).union(b.keys).sorted().flatMap { key in
            jsonDifferences(a[key], b[key], path: path.isEmpty ? key : path + "." + key)
        }
    case (.array(let a)?, .array(let b)?) where a.count == b.count:
        return zip(a, b).enumerated().flatMap { index, pair in jsonDifferences(pair.0, pair.1, path: "\(path)[\(index)]") }
    default:
        if left == right { return [] }
        func show(_ value: JSONValue?) -> String {
            guard let value else { return "(missing)" }
            let text = CanonicalJSON.string(value)
            return text.count > 160 ? String(text.prefix(160)) + "…" : text
        }
        return ["\(path): \(show(left)) ≠ \(show(right))"]
    }
}

/// A section as the comparison of two captures sees it: status, data and issues (durations and
/// volatile values change between two captures of an unchanged machine).
public func comparable(_ section: JSONValue?) -> JSONValue? {
    guard case .object(let fields)? = section else { return section }
    return .object(fields.filter { ["status", "data", "issues", "probeVersion"].contains($0.key) })
}
