/// OS package pins from `packages.dpkg`, `packages.rpm` and `packages.apk`.
///
/// - apt (dpkg): `name=version`, or `name:arch=version` for a package of a foreign architecture.
/// - dnf (rpm): `name-version` (the recorded version is `[epoch:]version-release`, a form dnf
///   accepts: `bash-0:5.1.8-6.el9` or `bash-5.1.8-6.el9`); `name-version.arch` for a foreign one.
/// - apk: `name=version`.
///
/// snapshot.debian.org: the dpkg database records no install or archive dates, so the snapshot
/// that holds every recorded version cannot be derived from the manifest. The capture time is
/// an upper bound only (a version superseded in the archive before it is missing from that
/// snapshot); it is written as a commented suggestion, never as a fact.
enum OSPackagesExport {
    struct Pins {
        var manager: String
        var pins: [String]
    }

    static func render(_ input: ExportInput) throws(Export.Error) -> Export.Output {
        let all = pins(input)
        guard !all.isEmpty else {
            throw Export.Error(description: "the manifest has no packages.dpkg, packages.rpm or packages.apk section with data")
        }
        var out = Export.header(input, what: "OS package pins")
        if let name = input.osRelease["PRETTY_NAME"] { out += "# recorded OS: \(Export.clean(name))\n" }
        for group in all {
            out += "\n# \(group.manager): \(group.pins.count) package(s); install with: \(installCommand(group.manager))\n"
            if group.manager == "apt" { out += snapshotNote(input) }
            for pin in group.pins { out += pin + "\n" }
        }
        return Export.Output(text: out, skipped: [])
    }

    /// Pins by package manager, in the order apt, dnf, apk.
    static func pins(_ input: ExportInput) -> [Pins] {
        var result: [Pins] = []
        if let packages = input.systemPackages("dpkg"), !packages.isEmpty {
            let primary = primaryArchitecture(packages)
            result.append(Pins(manager: "apt", pins: packages.map { package in
                let name = Export.clean(package.name)
                let arch = package.architecture.map(Export.clean)
                let qualified = arch != nil && arch != "all" && arch != primary ? "\(name):\(arch!)" : name
                return "\(qualified)=\(Export.clean(package.version))"
            }))
        }
        if let packages = input.systemPackages("rpm"), !packages.isEmpty {
            let primary = primaryArchitecture(packages)
            result.append(Pins(manager: "dnf", pins: packages.map { package in
                let arch = package.architecture.map(Export.clean)
                let suffix = arch != nil && arch != "noarch" && arch != primary ? "." + arch! : ""
                return "\(Export.clean(package.name))-\(Export.clean(package.version))\(suffix)"
            }))
        }
        if let packages = input.systemPackages("apk"), !packages.isEmpty {
            result.append(Pins(manager: "apk", pins: packages.map { "\(Export.clean($0.name))=\(Export.clean($0.version))" }))
        }
        return result
    }

    static func installCommand(_ manager: String) -> String {
        switch manager {
        case "apt": return "apt-get install --no-install-recommends -y PINS"
        case "dnf": return "dnf install -y PINS"
        default: return "apk add --no-cache PINS"
        }
    }

    /// The most common architecture other than `all`/`noarch` (`amd64`, `x86_64`).
    static func primaryArchitecture(_ packages: [ExportInput.SystemPackage]) -> String? {
        var counts: [String: Int] = [:]
        for package in packages {
            guard let arch = package.architecture, arch != "all", arch != "noarch" else { continue }
            counts[arch, default: 0] += 1
        }
        return counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
    }

    /// Why no snapshot.debian.org date is given, and the capture time as an upper bound.
    static func snapshotNote(_ input: ExportInput) -> String {
        var out = "# snapshot.debian.org: the date cannot be derived from the manifest (the dpkg database records\n"
        out += "# no install or archive dates). The capture time is only an upper bound: versions superseded\n"
        out += "# before it are not in that snapshot.\n"
        if let stamp = snapshotTimestamp(input.captureTime) {
            out += "#   deb [check-valid-until=no] https://snapshot.debian.org/archive/debian/\(stamp)/ \(Export.clean(input.osRelease["VERSION_CODENAME"] ?? "CODENAME")) main\n"
        }
        return out
    }

    /// `20261202T042300Z` from an RFC 3339 UTC time `2026-12-02T04:23:00Z`.
    static func snapshotTimestamp(_ time: String?) -> String? {
        guard let time, time.hasSuffix("Z"), time.count >= 20 else { return nil }
        let digits = time.prefix(19).filter { $0.isASCII && $0.isNumber }
        guard digits.count == 14 else { return nil }
        return String(digits.prefix(8)) + "T" + String(digits.suffix(6)) + "Z"
    }
}
