import ProvenanceCore
import ProvenanceProbeKit

/// The Python a job would use and every distribution installed for it, without starting Python
/// or pip (an interpreter start with site-packages costs 40–400 ms here; pip list, seconds).
///
/// The interpreter: the one the job's command line starts (`run -- /venv/bin/python train.py`),
/// else `$VIRTUAL_ENV/bin/python3`, else `$CONDA_PREFIX/bin/python3`, else `python3`
/// on PATH (pyenv shims resolved; under `--root`, PATH searched in the recorded tree). Symbolic
/// links are followed in every component, relative and absolute, inside the machine. Reads `pyvenv.cfg`, `include/pythonX.Y/patchlevel.h` (exact
/// version), the site directories (`lib/pythonX.Y/site-packages`, Debian's `dist-packages`, the
/// user site, `PYTHONPATH`), each `*.dist-info/METADATA` (or `*.egg-info/PKG-INFO`) and
/// `direct_url.json` (VCS and editable installs), and `conda-meta/*.json` for conda packages.
public struct PythonProbe: Probe {
    /// The interpreter the job starts (`JobInterpreter`), when its command line names one: it
    /// is described instead of the environment's `python3`.
    public var interpreter: String?
    /// When set, only the distributions whose directory name (`NAME-VERSION.dist-info`,
    /// `NAME.egg-info`; NAME normalised) starts with one of these prefixes are read, and conda's
    /// packages are not: the cuda probe's search for frameworks and NVIDIA wheels, which then
    /// reads a few metadata files instead of every one.
    public var distributionNamePrefixes: [String]?

    public init(interpreter: String? = nil, distributionNamePrefixes: [String]? = nil) {
        self.interpreter = interpreter
        self.distributionNamePrefixes = distributionNamePrefixes
    }

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "python", version: "1.0.0",
            summary: "The python3 a job would use (venv, conda, PATH): version, prefix, installed distributions, conda packages",
            reads: ["$VIRTUAL_ENV/pyvenv.cfg", "PREFIX/include/python*/patchlevel.h", "SITE/*.dist-info/METADATA",
                    "SITE/*.dist-info/direct_url.json", "SITE/*.egg-info/PKG-INFO", "$CONDA_PREFIX/conda-meta/*.json",
                    "$PYENV_ROOT/version, $PWD/.python-version (and each parent's: a pyenv shim's version)",
                    "environment: VIRTUAL_ENV, CONDA_PREFIX, PYTHONPATH, PYTHONNOUSERSITE, HOME, PATH, PYENV_ROOT, PYENV_VERSION"])
    }

    /// Remembered while the interpreter, its site directories and every metadata file read are
    /// unchanged, with the same variables (`environmentRead`) and working directory (pyenv's
    /// `.python-version`): reading a few hundred metadata files is this probe's 2–3 ms of CPU.
    public var sectionCacheKey: SectionCacheKey? {
        SectionCacheKey(settings: [interpreter ?? "", distributionNamePrefixes?.joined(separator: ",") ?? "*"],
                        environment: Self.environmentRead, process: true)
    }

    /// The environment variables this probe reads (and `resolvePyenvShim` for it).
    static let environmentRead = ["VIRTUAL_ENV", "CONDA_PREFIX", "PATH", "PYTHONPATH", "PYTHONNOUSERSITE", "HOME",
                                  "PYENV_ROOT", "PYENV_VERSION"]

    public typealias Distribution = PythonSection.Distribution
    public typealias CondaPackage = PythonSection.CondaPackage
    public typealias Output = PythonSection

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let fs = context.fs
        let env = context.environment
        var kind = "system"
        var executable: String?
        if let interpreter, fs.exists(interpreter) {
            executable = interpreter
        } else if let venv = env["VIRTUAL_ENV"], fs.exists(venv + "/bin/python3") {
            executable = venv + "/bin/python3"
            kind = "venv"
        } else if let conda = env["CONDA_PREFIX"], fs.exists(conda + "/bin/python3") {
            executable = conda + "/bin/python3"
            kind = "conda"
        } else if let onPath = context.commands.resolve("python3")
                    ?? (fs.isLive ? nil : findOnPath("python3", path: env["PATH"], fs)) {
            executable = onPath
            if onPath.contains("/shims/") {
                guard let real = resolvePyenvShim(onPath, environment: env, workingDirectory: context.process.workingDirectory,
                                                  fs: fs) else {
                    throw ProbeFailure("\(onPath) is a pyenv shim whose version could not be resolved")
                }
                executable = real
            }
        }
        guard let executable else { throw ProbeAbsent(source: "python3", reason: "python3 is not installed") }
        let resolved = resolveSymlinks(executable, fs)
        let environmentDirectory = parent(parent(executable))
        var prefix = parent(parent(resolved))
        var config: [String: String] = [:]
        if let text = try? fs.read(environmentDirectory + "/pyvenv.cfg") {
            config = parsePyvenvCfg(text)
            kind = kind == "system" ? "venv" : kind
        }
        if fs.exists(environmentDirectory + "/conda-meta") { kind = "conda" }
        let basePrefix = config["home"].map(parent) ?? prefix
        if kind == "venv" { prefix = environmentDirectory }

        // X.Y from the interpreter's file name or the lib directory.
        var shortVersion = pythonShortVersion(fileName: String(resolved.split(separator: "/").last ?? ""))
        if shortVersion == nil {
            shortVersion = ((try? fs.list(basePrefix + "/lib")) ?? []).compactMap(pythonShortVersion(fileName:)).max()
        }
        var version = config["version"] ?? config["version_info"]
        if version == nil, let shortVersion,
           let header = try? fs.read("\(basePrefix)/include/python\(shortVersion)/patchlevel.h") {
            version = parsePatchlevelVersion(header)
        }
        if version == nil, let match = resolved.firstRange(of: "/versions/") {
            let name = resolved[match.upperBound...].prefix { $0 != "/" }
            if name.hasPrefix(shortVersion ?? "\u{0}") { version = String(name) }
        }
        version = version ?? shortVersion
        guard let shortVersion else {
            report.issue(resolved, "cannot tell the Python version (no lib/pythonX.Y)")
            return Output(executable: executable, resolvedExecutable: resolved, version: version, prefix: prefix,
                          environmentKind: kind, sitePackages: [], distributions: [])
        }

        // sys.path's site directories, in order.
        var sites: [String] = []
        for entry in (env["PYTHONPATH"] ?? "").split(separator: ":") where entry.hasPrefix("/") { sites.append(String(entry)) }
        let libDirectory = "lib/python\(shortVersion)"
        if kind == "venv" {
            sites.append("\(prefix)/\(libDirectory)/site-packages")
        }
        if kind != "venv" || config["include-system-site-packages"]?.lowercased() == "true" {
            if kind != "venv", env["PYTHONNOUSERSITE"] == nil, let home = env["HOME"] {
                sites.append("\(home)/.local/\(libDirectory)/site-packages")
            }
            sites.append("\(basePrefix)/\(libDirectory)/site-packages")
            if basePrefix == "/usr" {
                sites += ["/usr/local/\(libDirectory)/dist-packages", "/usr/lib/python3/dist-packages",
                          "/usr/\(libDirectory)/dist-packages"]
            }
        }
        sites = sites.filter { fs.isDirectory($0) }

        var seen = Set<String>()
        var distributions: [(normalized: String, distribution: Distribution)] = []
        for site in sites {
            for entry in (try? fs.list(site)) ?? [] {
                if let prefixes = distributionNamePrefixes {
                    let name = normalizeDistributionName(String(entry.prefix { $0 != "-" && $0 != "." }))
                    guard prefixes.contains(where: name.hasPrefix) else { continue }
                }
                var metadataPath: String?
                if entry.hasSuffix(".dist-info") { metadataPath = "\(site)/\(entry)/METADATA" }
                if entry.hasSuffix(".egg-info") {
                    metadataPath = fs.isDirectory("\(site)/\(entry)") ? "\(site)/\(entry)/PKG-INFO" : "\(site)/\(entry)"
                }
                guard let metadataPath else { continue }
                // The headers are at the top; descriptions after them can be long.
                guard let head = try? fs.readPrefix(metadataPath, maxBytes: 16_384),
                      let (name, distVersion) = parseDistributionMetadata(head: head)
                else {
                    report.issue(metadataPath, "no Name/Version in the metadata")
                    continue
                }
                let normalized = normalizeDistributionName(name)
                guard seen.insert(normalized).inserted else { continue }
                var distribution = Distribution(name: name, version: distVersion, location: site)
                if entry.hasSuffix(".dist-info"), let direct = try? fs.read("\(site)/\(entry)/direct_url.json"),
                   let json = try? JSONParser.parse(direct) {
                    if let url = json["url"]?.stringValue {
                        distribution.directURL = Secrets.maskURL(url)
                        fs.noteMasked(raw: url, masked: Secrets.maskURL(url))
                    }
                    distribution.vcsCommit = json["vcs_info"]?["commit_id"]?.stringValue
                    if case .bool(let editable)? = json["dir_info"]?["editable"] { distribution.editable = editable }
                }
                distributions.append((normalized, distribution))
            }
        }
        // By normalized name, each computed once (in the comparison it was computed n log n times).
        let sorted = distributions.sorted { $0.normalized < $1.normalized }.map(\.distribution)

        var conda: [CondaPackage]?
        let condaMeta = (kind == "conda" ? environmentDirectory : env["CONDA_PREFIX"] ?? "") + "/conda-meta"
        if distributionNamePrefixes == nil, let files = try? fs.list(condaMeta) {
            conda = files.filter { $0.hasSuffix(".json") }.compactMap { file in
                guard let bytes = try? fs.readBytes("\(condaMeta)/\(file)"), let json = try? JSONParser.parse(bytes),
                      let name = json["name"]?.stringValue, let version = json["version"]?.stringValue else { return nil }
                let channel = json["channel"]?.stringValue
                if let channel { fs.noteMasked(raw: channel, masked: Secrets.maskURL(channel)) }
                return CondaPackage(name: name, version: version, build: json["build"]?.stringValue,
                                    channel: channel.map(Secrets.maskURL))
            }.sorted { $0.name < $1.name }
        }
        return Output(executable: executable, resolvedExecutable: resolved, version: version, prefix: prefix,
                      environmentKind: kind, sitePackages: sites, distributions: sorted, condaPackages: conda)
    }

    private func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}

/// `3.11` from `python3.11` (or a `lib/python3.11` directory name); nil for `python3`.
public func pythonShortVersion(fileName: String) -> String? {
    guard fileName.hasPrefix("python") else { return nil }
    let rest = fileName.dropFirst(6)
    let parts = rest.split(separator: ".")
    guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else { return nil }
    return String(rest)
}

/// `PY_VERSION` of CPython's `patchlevel.h` (`#define PY_VERSION "3.11.7"`).
public func parsePatchlevelVersion(_ text: String) -> String? {
    for line in text.lines where line.hasPrefix("#define PY_VERSION") {
        let quoted = line.split(separator: "\"")
        if quoted.count >= 2 { return String(quoted[1]) }
    }
    return nil
}

/// `key = value` lines of `pyvenv.cfg`.
public func parsePyvenvCfg(_ text: String) -> [String: String] {
    var values: [String: String] = [:]
    for line in text.lines {
        guard let equals = line.firstIndex(of: "=") else { continue }
        values[line[..<equals].trimmed] = line[line.index(after: equals)...].trimmed
    }
    return values
}

/// `parseDistributionMetadata` on the bytes at the head of a METADATA file: the lines are found
/// in the bytes, and only a line whose bytes start with `Name:` or `Version:` is decoded and read
/// as that function reads it (a line can start so as text only if its bytes do). Decoding the
/// whole header block first (classifiers, requirements) and walking it as text was a fifth of
/// the python probe.
func parseDistributionMetadata(head bytes: [UInt8]) -> (String, String)? {
    var name: String?
    var version: String?
    bytes.withUnsafeBufferPointer { buffer in
        var start = 0
        while start < buffer.count, name == nil || version == nil {
            let newline = lineEnd(in: buffer, from: start)
            defer { start = newline + 1 }
            // Without its CR; an empty line ends the headers.
            let end = newline > start && buffer[newline - 1] == 0x0D ? newline - 1 : newline
            if end == start { break }
            guard (name == nil && lineStarts(buffer, start, end, with: "Name:"))
                    || (version == nil && lineStarts(buffer, start, end, with: "Version:"))
            else { continue }
            let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<end]), as: UTF8.self)
            if name == nil, text.hasPrefix("Name:") { name = text.dropFirst(5).trimmed }
            if version == nil, text.hasPrefix("Version:") { version = text.dropFirst(8).trimmed }
        }
    }
    guard let name, let version, !name.isEmpty else { return nil }
    return (name, version)
}

/// `Name` and `Version` from core metadata (the RFC 822 headers before the first blank line).
public func parseDistributionMetadata(_ text: String) -> (String, String)? {
    var name: String?
    var version: String?
    // Only the headers, and only until both are found (they are usually the second and third
    // lines): the long description after a blank line can be large.
    var rest = Substring(text)
    while !rest.isEmpty, name == nil || version == nil {
        let end = rest.utf8.firstIndex(of: 0x0A) ?? rest.endIndex
        var line = rest[..<end]
        rest = end == rest.endIndex ? "" : rest[rest.utf8.index(after: end)...]
        if line.hasSuffix("\r") { line = line.dropLast() }
        if line.isEmpty { break }
        if name == nil, line.hasPrefix("Name:") { name = line.dropFirst(5).trimmed }
        if version == nil, line.hasPrefix("Version:") { version = line.dropFirst(8).trimmed }
    }
    guard let name, let version, !name.isEmpty else { return nil }
    return (name, version)
}

