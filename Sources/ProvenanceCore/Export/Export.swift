/// Turns a manifest into files that rebuild the recorded environment (`provenance export`).
///
/// Pure formatting: the manifest in, text out. Whatever cannot be exported is returned in
/// `skipped` with the reason (and written as comments in the file), never silently dropped.
public enum Export {
    public enum Format: String, CaseIterable, Sendable {
        case requirements, pylock, conda, condaExplicit = "conda-explicit", osPackages = "os-packages"
        case dockerfile, apptainer
        case mlperfSystem = "mlperf-system", roCrate = "ro-crate"
    }

    /// One thing that could not be exported, and why.
    public struct Skipped: Sendable, Equatable {
        public var item: String
        public var reason: String
        public init(_ item: String, _ reason: String) {
            self.item = clean(item)
            self.reason = clean(reason)
        }
    }

    public struct Output: Sendable, Equatable {
        public var text: String
        public var skipped: [Skipped]
    }

    public struct Error: Swift.Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static func export(_ format: Format, manifest: JSONValue) throws(Error) -> Output {
        let input = ExportInput(manifest: manifest)
        switch format {
        case .requirements: return try RequirementsExport.render(input)
        case .pylock: return try PylockExport.render(input)
        case .conda: return try CondaExport.environmentYAML(input)
        case .condaExplicit: return try CondaExport.explicit(input)
        case .osPackages: return try OSPackagesExport.render(input)
        case .dockerfile: return try ContainerExport.dockerfile(input)
        case .apptainer: return try ContainerExport.apptainer(input)
        case .mlperfSystem: return try MLPerfSystemExport.render(input)
        case .roCrate:
            throw Error(description: "ro-crate describes a run directory (env.json and run.json), not a manifest alone: use ROCrateExport")
        }
    }

    /// A value from the manifest made safe to write into a file: control characters (a line
    /// break that would start a new requirement, an escape sequence for a terminal) become `?`.
    public static func clean(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { isControl($0) ? "?" : $0 }))
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0)
    }

    /// Comment lines (`# …`) listing what was not exported.
    static func skippedComments(_ skipped: [Skipped], prefix: String = "# ") -> String {
        guard !skipped.isEmpty else { return "" }
        var out = "\(prefix)Not exported (\(skipped.count)):\n"
        for entry in skipped { out += "\(prefix)  \(entry.item): \(entry.reason)\n" }
        return out
    }

    /// The header every exported file starts with.
    static func header(_ input: ExportInput, what: String, prefix: String = "# ") -> String {
        var out = "\(prefix)\(what), exported by provenance \(ProvenanceVersion.current)\n"
        if let fingerprint = input.fingerprint { out += "\(prefix)from the manifest \(clean(fingerprint))" }
        if let time = input.captureTime { out += " captured \(clean(time))" }
        return out + "\n"
    }
}
