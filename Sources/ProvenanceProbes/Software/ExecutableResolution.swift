import ProvenanceCore
import ProvenanceProbeKit

/// The machine path with every symbolic link in it followed (at most 40), as `realpath` does:
/// links in any component (`/venv/bin -> /opt/venv/bin`), absolute targets and relative ones
/// (`python3 -> python3.11`, resolved against the link's directory). Targets are machine paths:
/// under `--root` an absolute target and a `..` past `/` stay inside the recorded root, so the
/// answer never names a file of the host.
public func resolveSymlinks(_ path: String, _ fs: RootedFileSystem) -> String {
    var pending = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    pending.reverse()  // a stack: the next component last
    var resolved: [String] = []
    var links = 0
    while let part = pending.popLast() {
        if part == "." { continue }
        if part == ".." {
            _ = resolved.popLast()
            continue
        }
        let candidate = "/" + (resolved + [part]).joined(separator: "/")
        guard let target = fs.readLink(candidate) else {
            resolved.append(part)
            continue
        }
        links += 1
        if links > 40 { return normalizePath(candidate + "/" + pending.reversed().joined(separator: "/")) }
        if target.hasPrefix("/") { resolved = [] }
        pending.append(contentsOf: target.split(separator: "/", omittingEmptySubsequences: true).map(String.init).reversed())
    }
    return "/" + resolved.joined(separator: "/")
}

/// The first `name` on a PATH of the machine that is a file (links followed inside the machine),
/// as the shell's command search finds it; for `--root`, where no recorded command answers.
public func findOnPath(_ name: String, path: String?, _ fs: RootedFileSystem) -> String? {
    for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") where directory.hasPrefix("/") {
        let candidate = normalizePath(directory + "/" + name)
        let target = resolveSymlinks(candidate, fs)
        if fs.exists(target) && !fs.isDirectory(target) { return candidate }
    }
    return nil
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

/// The rustc (or cargo, ...) a rustup proxy (`~/.cargo/bin/rustc` → rustup) would run, without
/// running rustup: `RUSTUP_TOOLCHAIN`, else the nearest `rust-toolchain.toml` / `rust-toolchain`
/// from the working directory up, else `default_toolchain` of `$RUSTUP_HOME/settings.toml`
/// (`~/.rustup`). Nil when that cannot be told (directory overrides, missing toolchain).
public func resolveRustupProxy(_ proxy: String, environment: [String: String], workingDirectory: String?,
                               fs: RootedFileSystem) -> String?
{
    let name = String(proxy.split(separator: "/").last ?? "")
    guard let home = environment["RUSTUP_HOME"] ?? environment["HOME"].map({ $0 + "/.rustup" }) else { return nil }
    let settings = (try? fs.read(home + "/settings.toml")).flatMap { $0 } ?? ""
    // Directory overrides (`rustup override set`) live in settings.toml; do not guess around them.
    if settings.contains("[overrides]") && settings.lines.drop(while: { $0 != "[overrides]" }).dropFirst()
        .contains(where: { $0.contains("=") }) { return nil }
    func quotedValue(_ line: String) -> String? {
        let parts = line.split(separator: "\"")
        return parts.count >= 2 ? String(parts[1]) : nil
    }
    var toolchain = environment["RUSTUP_TOOLCHAIN"]
    if toolchain == nil, var directory = workingDirectory {
        while toolchain == nil {
            if let text = try? fs.read(directory + "/rust-toolchain.toml") {
                toolchain = text.lines.first { $0.trimmed.hasPrefix("channel") }.flatMap(quotedValue)
                if toolchain == nil { return nil }
            } else if let text = fs.attribute(directory + "/rust-toolchain") {
                toolchain = text
            }
            if directory == "/" { break }
            let parent = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
            directory = parent.isEmpty ? "/" : parent
        }
    }
    if toolchain == nil {
        toolchain = settings.lines.first { $0.hasPrefix("default_toolchain") }.flatMap(quotedValue)
    }
    guard let toolchain, let installed = try? fs.list(home + "/toolchains") else { return nil }
    let directory = installed.first { $0 == toolchain } ?? installed.first { $0.hasPrefix(toolchain + "-") }
    guard let directory else { return nil }
    let candidate = "\(home)/toolchains/\(directory)/bin/\(name)"
    return fs.exists(candidate) ? candidate : nil
}
