import ProvenanceCore

/// One installed package.
public struct InstalledPackage: Encodable, Equatable, Sendable {
    public var name: String
    public var version: String
    public var architecture: String?
}

/// Parses `/var/lib/dpkg/status`: the installed packages (`Status: install ok installed`, and
/// `hold ok installed`), sorted by name then architecture. Works on bytes: the file is large.
public func parseDpkgStatus(_ bytes: [UInt8]) -> [InstalledPackage] {
    var packages: [InstalledPackage] = []
    var name: String?
    var version: String?
    var architecture: String?
    var installed = false

    func finish() {
        if installed, let name, let version {
            packages.append(InstalledPackage(name: name, version: version, architecture: architecture))
        }
        name = nil
        version = nil
        architecture = nil
        installed = false
    }

    func value(_ line: ArraySlice<UInt8>, after prefixLength: Int) -> String {
        String(decoding: line.dropFirst(prefixLength), as: UTF8.self).trimmed
    }

    for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
        if line.isEmpty || line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
            finish()
            continue
        }
        let first = line.first!
        if first == 0x20 || first == 0x09 { continue }  // continuation of a multi-line field
        if line.starts(with: "Package:".utf8) {
            name = value(line, after: 8)
        } else if line.starts(with: "Version:".utf8) {
            version = value(line, after: 8)
        } else if line.starts(with: "Architecture:".utf8) {
            architecture = value(line, after: 13)
        } else if line.starts(with: "Status:".utf8) {
            let words = value(line, after: 7).split(separator: " ")
            installed = words.count == 3 && words[2] == "installed"
        }
    }
    finish()
    return packages.sorted { ($0.name, $0.architecture ?? "") < ($1.name, $1.architecture ?? "") }
}

/// Parses apk's `/lib/apk/db/installed` (`P:` name, `V:` version, `A:` architecture; blank-line
/// separated), sorted by name.
public func parseApkInstalled(_ text: String) -> [InstalledPackage] {
    var packages: [InstalledPackage] = []
    var current: (name: String?, version: String?, arch: String?) = (nil, nil, nil)
    func finish() {
        if let name = current.name, let version = current.version {
            packages.append(InstalledPackage(name: name, version: version, architecture: current.arch))
        }
        current = (nil, nil, nil)
    }
    for line in text.lines {
        if line.isEmpty { finish(); continue }
        if line.hasPrefix("P:") { current.name = String(line.dropFirst(2)) }
        if line.hasPrefix("V:") { current.version = String(line.dropFirst(2)) }
        if line.hasPrefix("A:") { current.arch = String(line.dropFirst(2)) }
    }
    finish()
    return packages.sorted { ($0.name, $0.architecture ?? "") < ($1.name, $1.architecture ?? "") }
}

/// The version of one package in apk's database.
public func apkPackageVersion(_ text: String, _ name: String) -> String? {
    parseApkInstalled(text).first { $0.name == name }?.version
}

/// The query format the rpm probe asks for: one line per package, tab-separated.
public let rpmQueryFormat = "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n"

/// Parses `rpm -qa --queryformat '%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\t%{ARCH}\n'`;
/// an epoch of 0 is dropped (`0:1.2-3` → `1.2-3`), as rpm itself prints versions.
public func parseRpmQuery(_ text: String) -> (packages: [InstalledPackage], problems: [String]) {
    var packages: [InstalledPackage] = []
    var problems: [String] = []
    for (number, line) in text.lines.enumerated() where !line.trimmed.isEmpty {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 3 else {
            problems.append("malformed line \(number + 1): '\(line.prefix(80))'")
            continue
        }
        var version = fields[1]
        if version.hasPrefix("0:") { version.removeFirst(2) }
        packages.append(InstalledPackage(name: fields[0], version: version,
                                         architecture: fields[2] == "(none)" ? nil : fields[2]))
    }
    return (packages.sorted { ($0.name, $0.architecture ?? "", $0.version) < ($1.name, $1.architecture ?? "", $1.version) },
            problems)
}
