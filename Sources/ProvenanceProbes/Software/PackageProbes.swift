import ProvenanceCore
import ProvenanceProbeKit

/// Debian/Ubuntu packages, from `/var/lib/dpkg/status` read directly (no `dpkg-query`).
public struct DpkgProbe: Probe {
    public init() {}
    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(id: "packages.dpkg", version: "1.0.0", summary: "Installed dpkg packages: name, version, architecture",
                        reads: ["/var/lib/dpkg/status"])
    }

    /// Remembered while the database is unchanged (`SectionCache`): parsing it is the most of
    /// this probe's 2 ms of CPU, and it changes only when packages do.
    public var sectionCacheKey: SectionCacheKey? { SectionCacheKey() }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> DpkgSection {
        var parser = DpkgStatusParser()
        guard try context.fs.readLineBlocks("/var/lib/dpkg/status", { parser.parse(lines: $0) }) else {
            throw ProbeAbsent(source: "/var/lib/dpkg/status", reason: "no dpkg database")
        }
        let packages = parser.finish()
        return DpkgSection(count: packages.count, packages: packages)
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

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> RpmSection {
        let result = context.run(["rpm", "-qa", "--queryformat", rpmQueryFormat])
        if result.outcome == .notFound { throw ProbeAbsent(source: "rpm", reason: "rpm is not installed") }
        guard result.succeeded else { throw ProbeFailure("rpm -qa \(result.failureDescription)") }
        let parsed = parseRpmQuery(result.stdoutText)
        for problem in parsed.problems.prefix(5) { report.issue("rpm -qa", problem) }
        if parsed.packages.isEmpty { throw ProbeAbsent(source: "rpm", reason: "the rpm database is empty") }
        return RpmSection(count: parsed.packages.count, packages: parsed.packages)
    }
}

/// Alpine packages, from `/lib/apk/db/installed`.
public struct ApkProbe: Probe {
    public init() {}
    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(id: "packages.apk", version: "1.0.0", summary: "Installed apk packages: name, version, architecture",
                        reads: ["/lib/apk/db/installed"])
    }

    /// Remembered while the database is unchanged (`SectionCache`).
    public var sectionCacheKey: SectionCacheKey? { SectionCacheKey() }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> ApkSection {
        guard let text = try context.fs.read("/lib/apk/db/installed") else {
            throw ProbeAbsent(source: "/lib/apk/db/installed", reason: "no apk database")
        }
        let packages = parseApkInstalled(text)
        return ApkSection(count: packages.count, packages: packages)
    }
}
