import ProvenanceCore
import ProvenanceProbeKit

/// The MPI implementations on the PATH and the communication libraries under them (UCX,
/// libfabric): what MPI maintainers ask for in every bug report.
///
/// Runs `ompi_info` (Open MPI), `mpichversion` (MPICH), `mpiname -a` (MVAPICH), `mpirun --version`
/// (kept only when Intel MPI answers), `ucx_info -v` and `fi_info --version`, each only when it is
/// on PATH. On a live machine each parsed answer is cached by the executable's identity
/// (`CommandCache`), so `ompi_info` (≈0.1–0.5 s, it opens every MCA component) is not started
/// before every job. `absent` when none of them is installed.
public struct MPIProbe: Probe {
    public typealias Output = MPISection

    let cache: CommandCache?

    public init(cache: CommandCache? = nil) { self.cache = cache }

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "mpi", version: "1.0.0",
            summary: "MPI implementations (Open MPI, MPICH, MVAPICH, Intel MPI) with version, device, configure "
                + "and transport components; UCX and libfabric versions",
            runs: ["ompi_info", "mpichversion", "mpiname -a", "mpirun --version", "ucx_info -v", "fi_info --version"])
    }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        var output = Output()
        var implementations: [MPIImplementation] = []
        if let parsed = openMPI(context, report) { implementations.append(parsed) }
        if let text = run(["mpichversion"], context, report), let parsed = parseMpichVersion(text) { implementations.append(parsed) }
        if let text = run(["mpiname", "-a"], context, report), let parsed = parseMpiname(text) { implementations.append(parsed) }
        // `mpirun --version` is Open MPI's or Hydra's too: only Intel MPI's banner is taken from it.
        if let text = run(["mpirun", "--version"], context, nil), let parsed = parseIntelMPIVersion(text) {
            implementations.append(parsed)
        }
        output.implementations = implementations.isEmpty ? nil : implementations.sorted { $0.name < $1.name }
        if let text = run(["ucx_info", "-v"], context, report) { output.ucx = parseUCXInfoVersion(text) }
        if let text = run(["fi_info", "--version"], context, report) { output.libfabric = parseFiInfoVersion(text) }
        cache?.save()
        if output == Output() {
            throw ProbeAbsent(source: "PATH", reason: "no ompi_info, mpichversion, mpiname, Intel MPI mpirun, ucx_info or fi_info")
        }
        return output
    }

    /// Open MPI from `ompi_info`. Its output is long (tens of KiB): the cache keeps the parsed
    /// answer, keyed by the identity of the `ompi_info` file, not the output.
    func openMPI(_ context: ProbeContext, _ report: ProbeReport) -> MPIImplementation? {
        let fs = context.fs
        guard let cache, fs.isLive, let onPath = context.commands.resolve("ompi_info"),
              let identity = CommandCache.identity(of: resolveSymlinks(onPath, fs)) else {
            return run(["ompi_info"], context, report, cached: false).flatMap(parseOmpiInfo)
        }
        let key = "mpi.ompi_info:" + onPath
        if let value = cache.value(for: key, identity: identity), let version = value["version"]?.stringValue {
            var result = MPIImplementation(name: "Open MPI", version: version, source: "ompi_info")
            result.prefix = value["prefix"]?.stringValue
            result.configure = value["configure"]?.stringValue
            result.transportComponents = value["transportComponents"]?.objectValue?.mapValues {
                $0.arrayValue?.compactMap(\.stringValue) ?? []
            }
            return result
        }
        let parsed = run(["ompi_info"], context, report, cached: false).flatMap(parseOmpiInfo)
        if let parsed, let value = try? JSONValueEncoder().encode(parsed) { cache.remember(value, for: key, identity: identity) }
        return parsed
    }

    /// The command's standard output; nil when it is not installed or failed (reported).
    func run(_ argv: [String], _ context: ProbeContext, _ report: ProbeReport?, cached: Bool = true) -> String? {
        let fs = context.fs
        let onPath = context.commands.resolve(argv[0])
        let command = fs.isLive && onPath != nil ? [onPath!] + argv.dropFirst() : argv
        let result: CommandResult
        if cached, let cache, fs.isLive, let onPath {
            result = cache.run(command, executable: resolveSymlinks(onPath, fs)) { context.run(command) }
        } else {
            result = context.run(command)
        }
        if result.outcome == .notFound { return nil }
        guard result.succeeded else {
            report?.issue(argv.joined(separator: " "), result.failureDescription)
            return nil
        }
        return result.stdoutText
    }
}

/// `key: value` lines of a report aligned on the colon (`ompi_info`, `mpichversion`); a line
/// without a key continues the previous value (Open MPI wraps its configure line).
func parseAlignedFields(_ text: String) -> [(key: String, value: String)] {
    var fields: [(key: String, value: String)] = []
    for line in text.lines {
        guard !line.trimmed.isEmpty else { continue }
        if let colon = line.firstIndex(of: ":"), !line[..<colon].trimmed.isEmpty, !line[..<colon].contains("'") {
            fields.append((line[..<colon].trimmed, line[line.index(after: colon)...].trimmed))
        } else if !fields.isEmpty {
            fields[fields.count - 1].value += " " + line.trimmed
        }
    }
    return fields
}

/// Open MPI's `ompi_info`: version (`Open MPI: 4.0.1`), prefix, configure command line, and the
/// components of the transport frameworks (`MCA pml: ucx (MCA v2.1.0, …)`).
public func parseOmpiInfo(_ text: String) -> MPIImplementation? {
    let fields = parseAlignedFields(text)
    guard let version = fields.first(where: { $0.key == "Open MPI" })?.value, !version.isEmpty else { return nil }
    var result = MPIImplementation(name: "Open MPI", version: version, source: "ompi_info")
    result.prefix = fields.first { $0.key == "Prefix" }?.value
    result.configure = fields.first { $0.key == "Configure command line" }?.value
    var components: [String: [String]] = [:]
    for (key, value) in fields where key.hasPrefix("MCA ") {
        let framework = String(key.dropFirst(4))
        guard ["pml", "btl", "mtl"].contains(framework) else { continue }
        let name = value.prefix { $0 != " " && $0 != "(" }
        if !name.isEmpty { components[framework, default: []].append(String(name)) }
    }
    result.transportComponents = components.isEmpty ? nil : components.mapValues { $0.sorted() }
    return result
}

/// MPICH's `mpichversion`: `MPICH Version:`, `MPICH Device:`, `MPICH configure:`.
public func parseMpichVersion(_ text: String) -> MPIImplementation? {
    let fields = parseAlignedFields(text)
    guard let version = fields.first(where: { $0.key == "MPICH Version" })?.value, !version.isEmpty else { return nil }
    var result = MPIImplementation(name: "MPICH", version: version, source: "mpichversion")
    result.device = nonEmpty(fields.first { $0.key == "MPICH Device" }?.value)
    result.configure = nonEmpty(fields.first { $0.key == "MPICH configure" }?.value)
    return result
}

/// MVAPICH's `mpiname -a`: `MVAPICH2 2.3.7 Wed March 02 22:00:00 EST 2022 ch3:mrail` (the
/// documented format; no recorded output was available to test against).
public func parseMpiname(_ text: String) -> MPIImplementation? {
    guard let line = text.lines.first(where: { !$0.trimmed.isEmpty }) else { return nil }
    let words = line.split(separator: " ")
    guard words.count >= 2, words[0].uppercased().hasPrefix("MVAPICH"), words[1].first?.isNumber == true else { return nil }
    var result = MPIImplementation(name: "MVAPICH", version: String(words[1]), source: "mpiname -a")
    if let device = words.last, device.contains(":") { result.device = String(device) }
    return result
}

/// Intel MPI's `mpirun --version`: `Intel(R) MPI Library for Linux* OS, Version 2019 Update 7
/// Build 20200312 (id: 5dc2dd3e9)` → version `2019 Update 7`, build `20200312`.
public func parseIntelMPIVersion(_ text: String) -> MPIImplementation? {
    guard let line = text.lines.first(where: { $0.contains("Intel(R) MPI Library") }),
          let range = line.firstRange(of: "Version ") else { return nil }
    var rest = line[range.upperBound...]
    var build: String?
    if let buildRange = rest.firstRange(of: " Build ") {
        build = String(rest[buildRange.upperBound...].prefix { $0 != " " })
        rest = rest[..<buildRange.lowerBound]
    }
    let version = rest.trimmed
    guard !version.isEmpty else { return nil }
    var result = MPIImplementation(name: "Intel MPI", version: version, source: "mpirun --version")
    result.build = build
    return result
}

/// `ucx_info -v`: old (`# UCT version=1.11.1 revision c58db6b`, `# configured with: …`) and
/// new (`# Library version: 1.14.1`, `# Git branch '…', revision 8f3b8a5`, `# Configured with: …`).
public func parseUCXInfoVersion(_ text: String) -> CommunicationLibrary? {
    var version: String?
    var revision: String?
    var configure: String?
    for line in text.lines {
        let body = line.drop { $0 == "#" || $0 == " " }
        if let range = body.firstRange(of: "UCT version=") {
            let words = body[range.upperBound...].split(separator: " ")
            version = words.first.map(String.init)
            if words.count >= 3, words[1] == "revision" { revision = String(words[2]) }
        } else if body.hasPrefix("Library version:") {
            version = body.dropFirst("Library version:".count).trimmed
        } else if body.hasPrefix("Git branch"), let range = body.firstRange(of: "revision ") {
            revision = body[range.upperBound...].trimmed
        } else if body.lowercased().hasPrefix("configured with:") {
            configure = body.dropFirst("configured with:".count).trimmed
        }
    }
    guard let version, !version.isEmpty else { return nil }
    var library = CommunicationLibrary(version: version)
    library.revision = revision
    library.configure = configure
    return library
}

/// `fi_info --version`: `libfabric: 1.19.0amzn3.0` and `libfabric api: 1.19`.
public func parseFiInfoVersion(_ text: String) -> CommunicationLibrary? {
    let fields = parseAlignedFields(text)
    guard let version = nonEmpty(fields.first(where: { $0.key == "libfabric" })?.value) else { return nil }
    var library = CommunicationLibrary(version: version)
    library.api = nonEmpty(fields.first { $0.key == "libfabric api" }?.value)
    return library
}
