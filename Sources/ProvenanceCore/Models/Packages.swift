/// The system package managers with a built-in probe: each has its own section
/// (`packages.dpkg`, `packages.rpm`, `packages.apk`) holding a `PackagesSection`.
public protocol PackageManager: Sendable {
    /// The last part of the section id: `dpkg`.
    static var name: String { get }
}

public enum Dpkg: PackageManager { public static let name = "dpkg" }
public enum Rpm: PackageManager { public static let name = "rpm" }
public enum Apk: PackageManager { public static let name = "apk" }

/// `packages.dpkg`: Debian/Ubuntu packages.
public typealias DpkgSection = PackagesSection<Dpkg>
/// `packages.rpm`: RPM packages.
public typealias RpmSection = PackagesSection<Rpm>
/// `packages.apk`: Alpine packages.
public typealias ApkSection = PackagesSection<Apk>

/// The packages of one system package manager.
public struct PackagesSection<Manager: PackageManager>: SectionModel {
    public static var sectionID: String { "packages." + Manager.name }
    public static var listIdentities: [String: String] { ["packages": "name"] }

    public var count: Int
    /// Sorted by name (then architecture).
    public var packages: [InstalledPackage]

    public init(count: Int, packages: [InstalledPackage]) {
        self.count = count
        self.packages = packages
    }

    public var summary: String { "\(count) \(Manager.name) package\(count == 1 ? "" : "s")" }

    enum CodingKeys: String, CodingKey { case count, packages }

    /// Built as one JSON value: thousands of packages through keyed containers cost ~5 ms a capture.
    public func encode(to encoder: any Encoder) throws {
        let records: [JSONValue] = packages.map { package in
            var record: [String: JSONValue] = ["name": .string(package.name), "version": .string(package.version)]
            if let architecture = package.architecture { record["architecture"] = .string(architecture) }
            return .object(record)
        }
        var container = encoder.singleValueContainer()
        try container.encode(JSONValue.object(["count": .int(Int64(count)), "packages": .array(records)]))
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        count = try container.decode(Int.self, forKey: .count)
        packages = try container.decode([InstalledPackage].self, forKey: .packages)
    }
}

/// One installed package.
public struct InstalledPackage: Codable, Equatable, Sendable {
    public var name: String
    public var version: String
    public var architecture: String?

    public init(name: String, version: String, architecture: String? = nil) {
        self.name = name
        self.version = version
        self.architecture = architecture
    }
}
