/// Every built-in section's model: the registry the schema generator, the policies' tests, diff
/// and audit (list identities) and render read. Adding a built-in probe adds one line here
/// (and one in `BuiltinProbes`).
public enum SectionModels {
    public static let all: [any SectionModel.Type] = [
        OSSection.self, CPUSection.self, MemorySection.self, NVIDIASection.self, AMDSection.self, CUDASection.self,
        PCISection.self, ContainerSection.self, SchedulerSection.self,
        LibcSection.self, DpkgSection.self, RpmSection.self, ApkSection.self, PythonSection.self,
        ToolchainsSection.self, EnvironmentSection.self, RunSection.self, GitSection.self, DatasetsSection.self,
        CPUTuningSection.self, SoftwareStackSection.self, InfiniBandSection.self, MPISection.self, GPUTopologySection.self,
    ]

    /// The model of a built-in section id; nil for site probes (their data stays untyped JSON).
    public static func model(for sectionID: String) -> (any SectionModel.Type)? {
        byID[sectionID]
    }

    private static let byID: [String: any SectionModel.Type] = Dictionary(
        all.map { ($0.sectionID, $0) }, uniquingKeysWith: { first, _ in first })

    /// The field naming the elements of the list at `listPath` (`gpus`, `repositories[].submodules`,
    /// `mydata.files` matched by `*.files`) in section `sectionID`'s data; nil when its elements
    /// have no name (compared by position) or the section has no model.
    public static func identityField(section sectionID: String, listPath: String) -> String? {
        guard let identities = identityTable[sectionID] else { return nil }
        if let exact = identities.exact[listPath] { return exact }
        let segments = listPath.split(separator: ".", omittingEmptySubsequences: false)
        for (pattern, field) in identities.patterns where pattern.count == segments.count {
            if zip(pattern, segments).allSatisfy({ $0 == "*" || $0 == $1 }) { return field }
        }
        return nil
    }

    private struct Identities: Sendable {
        var exact: [String: String] = [:]
        var patterns: [([Substring], String)] = []
    }

    private static let identityTable: [String: Identities] = {
        var table: [String: Identities] = [:]
        for model in all {
            var identities = Identities()
            for (path, field) in model.listIdentities {
                if path.contains("*") {
                    identities.patterns.append((path.split(separator: ".", omittingEmptySubsequences: false), field))
                } else {
                    identities.exact[path] = field
                }
            }
            table[model.sectionID] = identities
        }
        return table
    }()
}
