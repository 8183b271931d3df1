public struct OSSection: SectionModel {
    public static let sectionID = "os"

    /// Every field of os-release, unquoted.
    public var osRelease: [String: String]?
    /// Which os-release file was read.
    public var osReleaseSource: String?
    public var kernel: Kernel
    /// The machine architecture as `uname -m` names it (`x86_64`, `aarch64`, `ppc64le`).
    public var architecture: String?

    public init(osRelease: [String: String]? = nil, osReleaseSource: String? = nil, kernel: Kernel, architecture: String? = nil) {
        self.osRelease = osRelease
        self.osReleaseSource = osReleaseSource
        self.kernel = kernel
        self.architecture = architecture
    }

    public struct Kernel: Codable, Equatable, Sendable {
        /// `uname -r`, e.g. `6.1.0-13-amd64`.
        public var release: String?
        /// The build string, `uname -v`, e.g. `#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)`.
        public var version: String?
        /// The kernel command line, with secret-looking parameters masked.
        public var commandLine: String?

        public init(release: String? = nil, version: String? = nil, commandLine: String? = nil) {
            self.release = release
            self.version = version
            self.commandLine = commandLine
        }
    }
}

extension OSSection {
    public var summary: String {
        [osRelease?["PRETTY_NAME"] ?? osRelease?["NAME"], kernel.release.map { "kernel " + $0 }, architecture]
            .compactMap { $0 }.joined(separator: ", ")
    }
}
