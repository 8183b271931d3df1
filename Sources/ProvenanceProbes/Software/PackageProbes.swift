import ProvenanceCore
import ProvenanceProbeKit

/// The packages of one system package manager.
public struct PackagesOutput: Encodable, Equatable {
    public var count: Int
    /// Sorted by name (then architecture).
    public var packages: [InstalledPackage]

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
}

/// Debian/Ubuntu packages, from `/var/lib/dpkg/status` read directly (no `dpkg-query`).
public struct DpkgProbe: Probe {
    public init() {}
    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(id: "packages.dpkg", version: "1.0.0", summary: "Installed dpkg packages: name, version, architecture",
                        reads: ["/var/lib/dpkg/status"])
    }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> PackagesOutput {
        guard let bytes = try context.fs.readBytes("/var/lib/dpkg/status") else {
            throw ProbeAbsent(source: "/var/lib/dpkg/status", reason: "no dpkg database")
        }
        let packages = parseDpkgStatus(bytes)
        return PackagesOutput(count: packages.count, packages: packages)
    }
}

/// RPM packages (`rpm -qa` with a fixed query format; the database format varies too much to
/// read directly).
public struct RpmProbe: Probe {
    public init() {}
    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(id: "packages.rpm", version: "1.0.0", summary: "Installed RPM packages: name, version-release, architecture",
                        runs: ["rpm -qa --queryformat '\(rpmQueryFormat)'"])
    }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> PackagesOutput {
        let result = context.run(["rpm", "-qa", "--queryformat", rpmQueryFormat])
        if result.outcome == .notFound { throw ProbeAbsent(source: "rpm", reason: "rpm is not installed") }
        guard result.succeeded else { throw ProbeFailure("rpm -qa \(result.failureDescription)") }
        let parsed = parseRpmQuery(result.stdoutText)
        for problem in parsed.problems.prefix(5) { report.issue("rpm -qa", problem) }
        if parsed.packages.isEmpty { throw ProbeAbsent(source: "rpm", reason: "the rpm database is empty") }
        return PackagesOutput(count: parsed.packages.count, packages: parsed.packages)
    }
}

/// Alpine packages, from `/lib/apk/db/installed`.
public struct ApkProbe: Probe {
    public init() {}
    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(id: "packages.apk", version: "1.0.0", summary: "Installed apk packages: name, version, architecture",
                        reads: ["/lib/apk/db/installed"])
    }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> PackagesOutput {
        guard let text = try context.fs.read("/lib/apk/db/installed") else {
            throw ProbeAbsent(source: "/lib/apk/db/installed", reason: "no apk database")
        }
        let packages = parseApkInstalled(text)
        return PackagesOutput(count: packages.count, packages: packages)
    }
}
