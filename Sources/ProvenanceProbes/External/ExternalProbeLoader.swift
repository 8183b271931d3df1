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
    public static func load(directories: [String], reservedIDs: Set<String>, environment: [String: String])
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
                let probe: any Probe
                if lower.hasSuffix(".json") || lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") {
                    probe = try DeclarativeProbe(document: try readDefinition(path), path: path)
                } else if access(path, X_OK) == 0 {
                    // The file name without its extension: `site.licence.sh` → `site.licence`.
                    let id = name.lastIndex(of: ".").map { String(name[..<$0]) } ?? name
                    guard isValidProbeID(id) else {
                        throw ProbeDefinitionError("\(path): '\(id)' is not a probe id (lowercase letters, digits, dots)")
                    }
                    let head = (try? host.readBytes(path)).flatMap { $0 }.map { Array($0.prefix(4096)) } ?? []
                    probe = ExecutableProbe(id: id, path: path, supportsRoot: declaresRootSupport(head),
                                            hostEnvironment: environment)
                } else {
                    continue
                }
                let id = probe.descriptor.id
                if let other = origins[id] {
                    throw ProbeDefinitionError("\(path): probe id '\(id)' is already taken by \(other)")
                }
                origins[id] = path
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
