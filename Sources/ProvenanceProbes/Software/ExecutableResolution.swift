import ProvenanceCore
import ProvenanceProbeKit

/// Follows symbolic links of a machine path (at most 40), as `realpath` does for the last
/// component chain; relative targets resolve against the link's directory.
public func resolveSymlinks(_ path: String, _ fs: RootedFileSystem) -> String {
    var current = path
    for _ in 0..<40 {
        guard let target = fs.readLink(current) else { return current }
        if target.hasPrefix("/") {
            current = target
        } else {
            let directory = current[..<(current.lastIndex(of: "/") ?? current.startIndex)]
            current = normalizePath(directory + "/" + target)
        }
    }
    return current
}

/// Removes `.` and `..` components and repeated slashes from an absolute path.
public func normalizePath(_ path: String) -> String {
    var parts: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == ".." { _ = parts.popLast(); continue }
        parts.append(part)
    }
    return "/" + parts.joined(separator: "/")
}

/// The interpreter a pyenv shim (`~/.pyenv/shims/python3`) would run, without running the shim
/// (a bash script that takes hundreds of milliseconds): `PYENV_VERSION`, else the nearest
/// `.python-version` from the working directory up, else `$PYENV_ROOT/version`; nil for
/// `system` or when the version is not installed.
public func resolvePyenvShim(_ shim: String, environment: [String: String], workingDirectory: String?,
                             fs: RootedFileSystem) -> String?
{
    guard let shimsRange = shim.firstRange(of: "/shims/") else { return nil }
    let root = environment["PYENV_ROOT"] ?? String(shim[..<shimsRange.lowerBound])
    let name = String(shim[shimsRange.upperBound...])
    var version = environment["PYENV_VERSION"]
    if version == nil, var directory = workingDirectory {
        while true {
            if let text = fs.attribute(directory + "/.python-version") { version = text; break }
            if directory == "/" || directory.isEmpty { break }
            directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
            if directory.isEmpty { directory = "/" }
        }
    }
    if version == nil { version = fs.attribute(root + "/version") }
    guard let chosen = version?.split(whereSeparator: { $0 == ":" || $0 == " " }).first.map(String.init),
          chosen != "system" else { return nil }
    let candidate = "\(root)/versions/\(chosen)/bin/\(name)"
    return fs.exists(candidate) ? candidate : nil
}
