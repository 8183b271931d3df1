/// The sections of the ML and HPC stack probes (tuning, software.stack, rdma, mpi) as section
/// models: their ids, what names the elements of their lists, and their one-line summaries.
extension CPUTuningSection: SectionModel {
    public static let sectionID = "tuning"
    public var summary: String {
        let governors = Set((frequencyScaling ?? []).compactMap(\.governor)).sorted()
        var parts: [String] = []
        if !governors.isEmpty { parts.append("governor " + governors.joined(separator: ", ")) }
        if let boost { parts.append("boost " + (boost ? "on" : "off")) }
        if let smtControl { parts.append("SMT " + smtControl) }
        return parts.isEmpty ? "CPU tuning" : parts.joined(separator: "; ")
    }
}

extension SoftwareStackSection: SectionModel {
    public static let sectionID = "software.stack"
    public static let listIdentities = ["modules.loaded": "fullName", "easybuild": "name"]
    public var summary: String {
        var parts: [String] = []
        if let loaded = modules?.loaded, !loaded.isEmpty { parts.append("\(loaded.count) modules loaded") }
        if let easybuild, !easybuild.isEmpty { parts.append("\(easybuild.count) EasyBuild packages") }
        if spack != nil { parts.append("a Spack environment") }
        if conda != nil { parts.append("a conda environment") }
        return parts.isEmpty ? "no software stack" : parts.joined(separator: ", ")
    }
}

extension InfiniBandSection: SectionModel {
    public static let sectionID = "rdma"
    public static let listIdentities = ["adapters": "name"]
    public var summary: String { "\(adapters.count) RDMA adapter\(adapters.count == 1 ? "" : "s")" }
}

extension MPISection: SectionModel {
    public static let sectionID = "mpi"
    public static let listIdentities = ["implementations": "name"]
    public var summary: String {
        (implementations ?? []).map { "\($0.name) \($0.version)" }.joined(separator: ", ").nonEmptyOr("no MPI")
    }
}
