import ProvenanceCore
import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#endif

/// Finds the site's probes in probe directories: executables and `*.json` / `*.yaml` / `*.yml`
/// declarative definitions. Files starting with `.` or ending in `~`, `.md`, `.txt` are ignored.
public enum ExternalProbeLoader {
    /// The directories searched when none is given: `$XDG_CONFIG_HOME/provenance/probes.d`
    /// (`~/.config/...`) and `/etc/provenance/probes.d`.
    public static func defaultDirectories(environment: [String: String]) -> [String] {
        var directories: [String] = []
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            directories.append(xdg + "/provenance/probes.d")
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            directories.append(home + "/.config/provenance/probes.d")
        }
        directories.append("/etc/provenance/probes.d")
        return directories
    }

    /// Loads every probe of the directories (missing directories are skipped). Ids must be
    /// unique among themselves and against `reservedIDs` (the built-in probes).
    ///
    /// A file that cannot be used (invalid definition, a name that is no probe id, an id taken
    /// already) becomes an `UnusableProbe`: one failed section saying why, under an id made from
    /// its file name, so one bad file on a node never stops every capture there. The error is
    /// thrown only where `strict` asks for it (`provenance probes --check`, the tests).
    public static func load(directories: [String], reservedIDs: Set<String>, environment: [String: String],
                            strict: Bool = false)
        throws(ProbeDefinitionError) -> [any Probe]
    {
        var probes: [any Probe] = []
        var origins: [String: String] = [:]
        for id in reservedIDs { origins[id] = "a built-in probe" }
        let host = RootedFileSystem()
        for directory in directories {
            let absolute = directory.hasPrefix("/") ? directory : currentDirectoryPath() + "/" + directory
            guard let names = try? host.list(absolute) else { continue }
            for name in names where !name.hasPrefix(".") && !name.hasSuffix("~") {
                let path = absolute + "/" + name
                let lower = name.lowercased()
                if lower.hasSuffix(".md") || lower.hasSuffix(".txt") || host.isDirectory(path) { continue }
                // The file name without its extension: `site.licence.sh` → `site.licence`.
                let stem = name.lastIndex(of: ".").map { String(name[..<$0]) } ?? name
                var probe: any Probe
                do throws(ProbeDefinitionError) {
                    if lower.hasSuffix(".json") || lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") {
                        probe = try DeclarativeProbe(document: try readDefinition(path), path: path)
                    } else if access(path, X_OK) == 0 {
                        guard isValidProbeID(stem) else {
                            throw ProbeDefinitionError(
                                "\(path): '\(stem)' is not a probe id (lowercase letters, digits, dots, hyphens)")
                        }
                        let head = (try? host.readBytes(path)).flatMap { $0 }.map { Array($0.prefix(4096)) } ?? []
                        probe = ExecutableProbe(id: stem, path: path, supportsRoot: declaresRootSupport(head),
                                                hostEnvironment: environment, identifying: declaredIdentifyingFields(head))
                    } else {
                        continue
                    }
                    if let other = origins[probe.descriptor.id] {
                        throw ProbeDefinitionError("\(path): probe id '\(probe.descriptor.id)' is already taken by \(other)")
                    }
                } catch {
                    if strict { throw error }
                    var id = UnusableProbe.id(forFileStem: stem)
                    var suffix = 2
                    while origins[id] != nil { id = UnusableProbe.id(forFileStem: stem) + "-\(suffix)"; suffix += 1 }
                    probe = UnusableProbe(id: id, path: path, reason: error.description)
                }
                origins[probe.descriptor.id] = path
                probes.append(probe)
            }
        }
        return probes
    }

    static func readDefinition(_ path: String) throws(ProbeDefinitionError) -> JSONValue {
        let bytes: [UInt8]
        do {
            guard let read = try RootedFileSystem().readBytes(path) else { throw ProbeDefinitionError("\(path): vanished") }
            bytes = read
        } catch let error as FileSystemError {
            throw ProbeDefinitionError("\(path): \(error.message)")
        } catch {
            throw error as! ProbeDefinitionError
        }
        if path.hasSuffix(".json") {
            do { return try JSONParser.parse(bytes) } catch { throw ProbeDefinitionError("\(path): \(error)") }
        }
        do { return try YAMLLoader.load(bytes) } catch { throw ProbeDefinitionError("\(path): invalid YAML: \(error)") }
    }
}

func currentDirectoryPath() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buffer, buffer.count) != nil else { return "." }
    return String(cString: buffer)
}

/// A probe file that could not be loaded, kept as one failed section that says why.
public struct UnusableProbe: Probe {
    public let id: String
    public let path: String
    public let reason: String

    public init(id: String, path: String, reason: String) {
        self.id = id
        self.path = path
        self.reason = reason
    }

    /// A probe id made from a file name: lower case, characters other than letters, digits,
    /// dots and hyphens as `-`, starting with a letter (`Site Info!` → `site-info-`).
    public static func id(forFileStem stem: String) -> String {
        var id = String(stem.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") ? $0 : "-" })
        id = id.split(separator: ".", omittingEmptySubsequences: true).map { part in
            part.first?.isLetter == true ? String(part) : "p" + part
        }.joined(separator: ".")
        return isValidProbeID(id) ? id : "unusable-probe"
    }

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(id: id, version: "external", summary: "Unusable probe file \(path)", reads: [path])
    }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> JSONValue {
        throw ProbeFailure(reason)
    }
}
