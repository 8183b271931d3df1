/// The facts of a manifest worth a paper's "computational environment" appendix, picked out of
/// the manifest JSON. Pure and forgiving: a section that is missing, not `ok`, or shaped
/// differently than expected contributes what it can and never fails the rendering.
public struct EnvironmentSummary: Sendable, Equatable {
    /// A titled group of `label: value` rows (Hardware, Operating system, ...).
    public struct Group: Sendable, Equatable {
        public var title: String
        public var rows: [Row]
    }

    public struct Row: Sendable, Equatable {
        public var label: String
        public var value: String
    }

    /// One section's data flattened to `path = value` rows (for `--full`).
    public struct FlatSection: Sendable, Equatable {
        public var id: String
        public var status: String
        public var rows: [Row]
    }

    public var groups: [Group]
    public var full: [FlatSection]?

    /// Python distributions named in the summary when installed (normalised names).
    public static let notableDistributions = [
        "numpy", "scipy", "pandas", "scikit-learn", "torch", "torchvision", "jax", "jaxlib", "tensorflow",
        "keras", "transformers", "cupy", "triton", "mpi4py", "numba",
    ]

    public init(manifest: JSONValue, full: Bool = false) {
        let sections = manifest["sections"]?.objectValue ?? [:]
        func data(_ id: String) -> JSONValue? {
            guard let section = sections[id], section["status"]?.stringValue != "skipped" else { return nil }
            return section["data"]
        }
        var groups: [Group] = []

        // Hardware.
        var hardware: [Row] = []
        if let cpu = data("cpu") {
            var model = cpu["modelName"]?.stringValue
            if model == nil, let types = cpu["coreTypes"]?.arrayValue, !types.isEmpty {
                model = types.compactMap { type -> String? in
                    guard let name = type["modelName"]?.stringValue ?? type["partName"]?.stringValue else { return nil }
                    return type["count"]?.intValue.map { "\($0) × \(name)" } ?? name
                }.joined(separator: " + ")
            }
            if model == nil || model!.isEmpty {
                model = [cpu["vendor"]?.stringValue, cpu["identification"]?["partName"]?.stringValue]
                    .compactMap { $0 }.joined(separator: " ")
            }
            if let model, !model.isEmpty { hardware.append(Row(label: "CPU", value: model)) }
            var counts: [String] = []
            if let topology = cpu["topology"] {
                if let sockets = topology["sockets"]?.intValue { counts.append("\(sockets) socket\(sockets == 1 ? "" : "s")") }
                if let cores = topology["cores"]?.intValue { counts.append("\(cores) cores") }
            }
            if let logical = cpu["logicalCPUs"]?.intValue { counts.append("\(logical) logical CPUs") }
            if !counts.isEmpty { hardware.append(Row(label: "CPU count", value: counts.joined(separator: ", "))) }
            if let family = cpu["architectureFamily"]?.stringValue, data("os")?["architecture"] == nil {
                hardware.append(Row(label: "Architecture", value: family))
            }
        }
        if let bytes = data("memory")?["memTotalBytes"]?.intValue {
            hardware.append(Row(label: "Memory", value: EnvironmentSummary.formatBytes(bytes)))
        }
        if !hardware.isEmpty { groups.append(Group(title: "Hardware", rows: hardware)) }

        // Accelerators: any gpu.* section, cuda, rocm; rendered generically.
        let acceleratorIDs = sections.keys.filter { $0.hasPrefix("gpu") || $0 == "cuda" || $0 == "rocm" || $0.hasPrefix("cuda.") }
            .sorted()
        var accelerators: [Row] = []
        for id in acceleratorIDs {
            guard let value = data(id) else { continue }
            // The frameworks, wheels and conflicts of cuda have their own group (stackGroups).
            accelerators += EnvironmentSummary.summaryRows(of: value, prefix: id).filter { !EnvironmentSummary.stackRowLabels.contains($0.label) }
        }
        if !accelerators.isEmpty { groups.append(Group(title: "Accelerators", rows: accelerators)) }

        // Operating system.
        var system: [Row] = []
        if let os = data("os") {
            let release = os["osRelease"]
            if let name = release?["PRETTY_NAME"]?.stringValue
                ?? [release?["NAME"]?.stringValue, release?["VERSION"]?.stringValue ?? release?["VERSION_ID"]?.stringValue]
                    .compactMap({ $0 }).joined(separator: " ").nonEmpty
            {
                system.append(Row(label: "Distribution", value: name))
            }
            if let kernel = os["kernel"]?["release"]?.stringValue { system.append(Row(label: "Kernel", value: kernel)) }
            if let architecture = os["architecture"]?.stringValue { system.append(Row(label: "Architecture", value: architecture)) }
        }
        if let libc = data("libc") {
            let name = libc["implementation"]?.stringValue ?? "libc"
            system.append(Row(label: "C library", value: [name, libc["version"]?.stringValue].compactMap { $0 }.joined(separator: " ")))
        }
        if !system.isEmpty { groups.append(Group(title: "Operating system", rows: system)) }

        // Software.
        var software: [Row] = []
        if let python = data("python") {
            var text = "Python " + (python["version"]?.stringValue ?? "(version unknown)")
            if let kind = python["environmentKind"]?.stringValue { text += " (\(kind))" }
            software.append(Row(label: "Python", value: text))
            var installed: [String: String] = [:]
            for item in (python["distributions"]?.arrayValue ?? []) + (python["condaPackages"]?.arrayValue ?? []) {
                if let name = item["name"]?.stringValue, let version = item["version"]?.stringValue {
                    installed[normalizeDistributionName(name)] = installed[normalizeDistributionName(name)] ?? version
                }
            }
            for name in EnvironmentSummary.notableDistributions {
                if let version = installed[name] { software.append(Row(label: name, value: version)) }
            }
        }
        if let tools = data("toolchains")?["tools"]?.objectValue {
            for name in ["nvcc", "gcc", "clang", "rustc", "go", "java", "swift"] {
                if let version = tools[name]?["version"]?.stringValue { software.append(Row(label: name, value: version)) }
            }
        }
        if !software.isEmpty { groups.append(Group(title: "Software", rows: software)) }
        groups += EnvironmentSummary.stackGroups(data)

        // Code.
        if let git = data("git") {
            var code: [Row] = []
            let commit = git["commit"]?.stringValue ?? git["headCommit"]?.stringValue ?? git["head"]?["commit"]?.stringValue
                ?? git["head"]?.stringValue
            if let commit { code.append(Row(label: "Commit", value: commit)) }
            if let branch = git["branch"]?.stringValue { code.append(Row(label: "Branch", value: branch)) }
            let dirty: Bool? = {
                if case .bool(let value)? = git["dirty"] { return value }
                if case .bool(let value)? = git["isDirty"] { return value }
                if case .bool(let value)? = git["clean"] { return !value }
                return nil
            }()
            if let dirty { code.append(Row(label: "Working tree", value: dirty ? "dirty (uncommitted changes)" : "clean")) }
            if code.isEmpty { code = EnvironmentSummary.summaryRows(of: git, prefix: "git") }
            if !code.isEmpty { groups.append(Group(title: "Code", rows: code)) }
        }

        // Datasets.
        if let datasets = data("datasets") {
            var rows: [Row] = []
            let items = datasets.arrayValue ?? datasets["datasets"]?.arrayValue ?? datasets["files"]?.arrayValue
            if let items {
                for (index, item) in items.enumerated() {
                    let name = item["name"]?.stringValue ?? item["path"]?.stringValue ?? item["id"]?.stringValue ?? "dataset \(index + 1)"
                    rows.append(Row(label: name, value: EnvironmentSummary.digest(of: item) ?? EnvironmentSummary.scalarText(item)))
                }
            } else {
                rows = EnvironmentSummary.summaryRows(of: datasets, prefix: "datasets")
            }
            if !rows.isEmpty { groups.append(Group(title: "Datasets", rows: rows)) }
        }

        // The manifest itself.
        var record: [Row] = []
        if let fingerprint = manifest["fingerprint"]?.stringValue { record.append(Row(label: "Fingerprint", value: fingerprint)) }
        if let time = manifest["captureTime"]?.stringValue { record.append(Row(label: "Captured", value: time)) }
        let tool = [manifest["tool"]?["name"]?.stringValue, manifest["tool"]?["version"]?.stringValue].compactMap { $0 }
        if !tool.isEmpty { record.append(Row(label: "Tool", value: tool.joined(separator: " "))) }
        if let schema = manifest["schemaVersion"]?.stringValue { record.append(Row(label: "Schema", value: schema)) }
        groups.append(Group(title: "Manifest", rows: record))

        self.groups = groups
        if full {
            self.full = sections.keys.sorted().map { id in
                let section = sections[id]!
                var rows: [Row] = []
                if let data = section["data"] { EnvironmentSummary.flatten(data, path: "", into: &rows) }
                return FlatSection(id: id, status: section["status"]?.stringValue ?? "?", rows: rows)
            }
        }
    }


    /// `128 GiB (137438953472 bytes)`-style text, in integer arithmetic (one decimal).
    public static func formatBytes(_ bytes: Int64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var unit = 0
        var scale: Int64 = 1
        while unit + 1 < units.count, bytes / scale >= 1024 { scale *= 1024; unit += 1 }
        guard unit > 0 else { return "\(bytes) bytes" }
        // Whole units and the remainder apart: `bytes * 10` overflows from 9.22e17 bytes on.
        let tenths = bytes / scale * 10 + (bytes % scale * 10 + scale / 2) / scale
        let text = tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
        return "\(text) \(units[unit]) (\(bytes) bytes)"
    }

    /// Rows for a section of unknown shape: its scalar members, and for each array of records a
    /// count with the records' names grouped (`2 × NVIDIA A100-SXM4-80GB`).
    static func summaryRows(of value: JSONValue, prefix: String) -> [Row] {
        guard case .object(let object) = value else {
            let text = scalarText(value)
            return text.isEmpty ? [] : [Row(label: prefix, value: text)]
        }
        var rows: [Row] = []
        for key in CanonicalJSON.sortedKeys(object) {
            let member = object[key]!
            switch member {
            case .string, .int, .bool, .double:
                rows.append(Row(label: "\(prefix) \(key)", value: scalarText(member)))
            case .array(let items) where items.contains(where: { $0.objectValue != nil }):
                var counts: [String: Int] = [:]
                var order: [String] = []
                for item in items {
                    let name = ["name", "productName", "product", "model", "marketingName", "id"]
                        .lazy.compactMap { item[$0]?.stringValue }.first ?? "unnamed"
                    if counts[name] == nil { order.append(name) }
                    counts[name, default: 0] += 1
                }
                let text = order.map { counts[$0]! == 1 ? $0 : "\(counts[$0]!) × \($0)" }.joined(separator: ", ")
                rows.append(Row(label: "\(prefix) \(key)", value: "\(items.count): \(text)"))
            case .array(let items) where !items.isEmpty && items.count <= 16:
                rows.append(Row(label: "\(prefix) \(key)", value: items.map(scalarText).joined(separator: ", ")))
            case .object(let nested) where nested.values.allSatisfy({ $0.objectValue == nil && $0.arrayValue == nil }) && !nested.isEmpty:
                for nestedKey in CanonicalJSON.sortedKeys(nested) {
                    rows.append(Row(label: "\(prefix) \(key).\(nestedKey)", value: scalarText(nested[nestedKey]!)))
                }
            default:
                continue
            }
        }
        return rows
    }

    static func digest(of item: JSONValue) -> String? {
        for key in ["digest", "sha256", "fingerprint", "hash"] {
            switch item[key] {
            case .string(let text)?: return key == "sha256" ? "sha256:" + text : text
            case .object(let digests)?:
                if let sha = digests["sha256"]?.stringValue { return "sha256:" + sha }
                if let first = CanonicalJSON.sortedKeys(digests).first, let text = digests[first]?.stringValue {
                    return "\(first):\(text)"
                }
            default: continue
            }
        }
        return nil
    }

    static func scalarText(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return s
        case .array, .object: return CanonicalJSON.string(value)
        }
    }

    /// Every leaf as `a.b[2].c = value`; arrays of scalars joined with `, ` on one row.
    static func flatten(_ value: JSONValue, path: String, into rows: inout [Row]) {
        switch value {
        case .object(let object):
            if object.isEmpty { rows.append(Row(label: path.isEmpty ? "(data)" : path, value: "{}")); return }
            for key in CanonicalJSON.sortedKeys(object) {
                flatten(object[key]!, path: path.isEmpty ? key : "\(path).\(key)", into: &rows)
            }
        case .array(let items):
            if items.allSatisfy({ $0.objectValue == nil && $0.arrayValue == nil }) {
                rows.append(Row(label: path, value: items.map(scalarText).joined(separator: ", ")))
            } else {
                for (index, item) in items.enumerated() { flatten(item, path: "\(path)[\(index)]", into: &rows) }
            }
        default:
            rows.append(Row(label: path, value: scalarText(value)))
        }
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}

/// PEP 503 normalisation of a Python distribution name: lower case, runs of `-`, `_`, `.` as one
/// `-` (the python probe's duplicates and the summary's lookups both use it).
public func normalizeDistributionName(_ name: String) -> String {
    var result = ""
    var lastWasSeparator = false
    for character in name.lowercased() {
        if character == "-" || character == "_" || character == "." {
            if !lastWasSeparator { result.append("-") }
            lastWasSeparator = true
        } else {
            result.append(character)
            lastWasSeparator = false
        }
    }
    return result
}
