public struct PythonSection: SectionModel {
    public static let sectionID = "python"

    /// The interpreter found (`python3` on PATH, or in the virtual/conda environment).
    public var executable: String
    public var resolvedExecutable: String
    /// `3.11.7` when the installation says so, else `3.11`.
    public var version: String?
    public var prefix: String
    /// `venv`, `conda` or `system`.
    public var environmentKind: String
    /// Site directories searched, in sys.path order.
    public var sitePackages: [String]
    /// Installed distributions, sorted by name; the first one found on the path wins.
    public var distributions: [Distribution]
    public var condaPackages: [CondaPackage]?

    public init(executable: String, resolvedExecutable: String, version: String? = nil, prefix: String, environmentKind: String, sitePackages: [String], distributions: [Distribution], condaPackages: [CondaPackage]? = nil) {
        self.executable = executable
        self.resolvedExecutable = resolvedExecutable
        self.version = version
        self.prefix = prefix
        self.environmentKind = environmentKind
        self.sitePackages = sitePackages
        self.distributions = distributions
        self.condaPackages = condaPackages
    }

    public struct Distribution: Codable, Equatable, Sendable {
        public var name: String
        public var version: String
        /// For VCS and local installs (PEP 610 `direct_url.json`), credentials stripped.
        public var directURL: String?
        public var vcsCommit: String?
        public var editable: Bool?
        /// The site directory it was found in.
        public var location: String

        public init(name: String, version: String, directURL: String? = nil, vcsCommit: String? = nil, editable: Bool? = nil, location: String) {
            self.name = name
            self.version = version
            self.directURL = directURL
            self.vcsCommit = vcsCommit
            self.editable = editable
            self.location = location
        }
    }

    public struct CondaPackage: Codable, Equatable, Sendable {
        public var name: String
        public var version: String
        public var build: String?
        public var channel: String?

        public init(name: String, version: String, build: String? = nil, channel: String? = nil) {
            self.name = name
            self.version = version
            self.build = build
            self.channel = channel
        }
    }
}

extension PythonSection {
    public static var listIdentities: [String: String] { ["distributions": "name", "condaPackages": "name"] }

    public var summary: String {
        "Python \(version ?? "(version unknown)") (\(environmentKind)), \(distributions.count) distributions"
    }
}
