/// How diff, verify and audit name the elements of a list of records, so a field has one path
/// everywhere (`gpu.nvidia.gpus[0000:3b:00.0].vbiosVersion`).
///
/// A built-in section's model declares the field that names each of its lists
/// (`SectionModel.listIdentities`); a list it declares nothing for is compared by position. Only
/// sections without a model (site probes) fall back to the first of `genericKeys` every element
/// has. Either way the field must hold a string or an integer, unique on each side; otherwise
/// elements are named by position (`[0]`).
public enum ListIdentity {
    /// For site-probe sections: fields tried in order, most specific first (a PCI address
    /// survives a move to another machine better than a serial-like UUID).
    public static let genericKeys = [
        "slot", "pciBusIdNormalized", "pciBusId", "uuid", "path", "name", "id", "card", "key", "level",
    ]

    /// The fields that may name the list at `shape` (the list's path inside the section's data with
    /// element names left out: `gpus`, `gpus[].migDevices`): the model's one, or the generic keys.
    public static func candidates(section: String, shape: String) -> [String] {
        if SectionModels.model(for: section) != nil {
            return SectionModels.identityField(section: section, listPath: shape).map { [$0] } ?? []
        }
        return genericKeys
    }

    /// The field naming the elements, given the list on each side compared (one for audit, two for
    /// diff); nil: by position.
    public static func key(section: String, shape: String, _ sides: [JSONValue]...) -> String? {
        key(candidates: candidates(section: section, shape: shape), sides)
    }

    static func key(candidates: [String], _ sides: [[JSONValue]]) -> String? {
        candidates.first { key in
            for list in sides {
                var seen = Set<JSONValue>()
                for element in list {
                    guard let value = element[key] else { return false }
                    switch value {
                    case .string, .int: if !seen.insert(value).inserted { return false }
                    default: return false
                    }
                }
            }
            return true
        }
    }

    /// How an element's identity value is written in a path.
    public static func name(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .int(let i): return String(i)
        default: return CanonicalJSON.string(value)
        }
    }

    /// The shape of a member of an object at `shape`: `gpus[]` + `migDevices` → `gpus[].migDevices`.
    @inline(__always)
    public static func member(_ shape: String, _ key: String) -> String { shape.isEmpty ? key : shape + "." + key }
}
