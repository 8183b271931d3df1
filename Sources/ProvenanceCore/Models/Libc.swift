public struct LibcSection: SectionModel {
    public static let sectionID = "libc"

    /// `glibc` or `musl`.
    public var implementation: String
    /// `2.36`.
    public var version: String?
    /// The distributor's banner (`GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36.`).
    public var banner: String?
    /// The file the facts were read from.
    public var path: String

    public init(implementation: String, version: String? = nil, banner: String? = nil, path: String) {
        self.implementation = implementation
        self.version = version
        self.banner = banner
        self.path = path
    }
}

extension LibcSection {
    public var summary: String {
        [implementation, version].compactMap { $0 }.joined(separator: " ")
    }
}
