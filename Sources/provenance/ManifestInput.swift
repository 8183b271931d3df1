import ProvenanceCore
import ProvenanceProbeKit
import ProvenanceProbes

#if canImport(Glibc)
import Glibc
#endif

/// Reads a manifest named on the command line, turning every problem into one clear line.
func readManifest(_ path: String) throws -> JSONValue {
    let bytes = try readInputFile(path, what: "manifest")
    do {
        return try ManifestReader.read(bytes)
    } catch {
        throw UserError(message: "\(path): \(error.description)", code: Exit.badInput)
    }
}

/// The bytes of an input file, at most 64 MiB (a manifest keeps large listings in sidecars).
func readInputFile(_ path: String, what: String) throws -> [UInt8] {
    let absolute = absolutePath(path)
    do {
        guard let bytes = try RootedFileSystem().readBytes(absolute) else {
            throw UserError(message: "\(path): no such file", code: Exit.noInput)
        }
        return bytes
    } catch let error as FileSystemError {
        let tooLarge = error.message.hasPrefix("larger than")
        throw UserError(message: "\(path): \(tooLarge ? "larger than 64 MiB: not a \(what)" : error.message)",
                        code: tooLarge ? Exit.badInput : Exit.noInput)
    }
}

/// `path` made absolute against the working directory (`DatasetSpec.absolutePath`).
func absolutePath(_ path: String) -> String {
    DatasetSpec.absolutePath(path, workingDirectory: currentDirectory())
}

func currentDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buffer, buffer.count) != nil else { return "." }
    return String(cString: buffer)
}

/// A built-in policy by name, or a policy file (JSON, or YAML by its extension).
func loadPolicy(_ nameOrPath: String) throws -> Policy {
    if let builtin = Policy.builtin(named: nameOrPath) { return builtin }
    guard nameOrPath.contains("/") || nameOrPath.contains(".") else {
        let names = Policy.builtins.map(\.name).joined(separator: ", ")
        throw UserError(message: "unknown policy '\(nameOrPath)' (built in: \(names); or a .json/.yaml file)",
                        code: Exit.usage)
    }
    let bytes = try readInputFile(nameOrPath, what: "policy")
    let document: JSONValue
    if nameOrPath.hasSuffix(".yaml") || nameOrPath.hasSuffix(".yml") {
        document = try parseYAML(bytes, path: nameOrPath)
    } else {
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw UserError(message: "\(nameOrPath): \(error)", code: Exit.badInput)
        }
    }
    do {
        return try Policy(json: document)
    } catch {
        throw UserError(message: "\(nameOrPath): invalid policy: \(error.description)", code: Exit.badInput)
    }
}

/// Whether colours go to standard output: a terminal, and `NO_COLOR` unset.
func useColor() -> Bool {
    isatty(1) == 1 && (processEnvironment()["NO_COLOR"] ?? "").isEmpty
}

/// A YAML document as a JSON value; invalid YAML is one line and exit 65.
func parseYAML(_ bytes: [UInt8], path: String) throws -> JSONValue {
    do {
        return try YAMLLoader.load(bytes)
    } catch {
        throw UserError(message: "\(path): invalid YAML: \(error)", code: Exit.badInput)
    }
}

/// A `run --config` file: YAML (`.yaml`, `.yml`), TOML (`.toml`) or JSON (anything else), with
/// the format's name.
func readConfigFile(_ path: String) throws -> (format: String, document: JSONValue) {
    let bytes = try readInputFile(path, what: "config file")
    let lower = path.lowercased()
    if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") { return ("yaml", try parseYAML(bytes, path: path)) }
    if lower.hasSuffix(".toml") {
        do {
            return ("toml", try TOMLParser.parse(String(decoding: bytes, as: UTF8.self)))
        } catch {
            throw UserError(message: "\(path): invalid TOML: \(error.description)", code: Exit.badInput)
        }
    }
    do {
        return ("json", try JSONParser.parse(bytes))
    } catch {
        throw UserError(message: "\(path): invalid JSON: \(error)", code: Exit.badInput)
    }
}
