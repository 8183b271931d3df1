import ProvenanceCore
import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What `run --output` records about a job's results once it ended: each file's SHA-256 and
/// size; a directory's every file and a digest of the whole, computed as a dataset's is (so
/// `sha256sum` recomputes it); a glob's every match.
public enum RunOutputs {
    /// The records of one `--output` argument: one per glob match (sorted), or the path itself.
    /// A glob matching nothing, or a missing path, is `{path, missing: true}`.
    public static func records(for argument: String, workingDirectory: String, cacheDirectory: String? = nil) -> [JSONValue] {
        guard argument.contains(where: { "*?[".contains($0) }) else {
            return [record(argument, workingDirectory: workingDirectory, cacheDirectory: cacheDirectory)]
        }
        let matches = glob(argument)
        guard !matches.isEmpty else { return [["path": .string(argument), "glob": .string(argument), "missing": true]] }
        return matches.map { match in
            guard case .object(var object) = record(match, workingDirectory: workingDirectory, cacheDirectory: cacheDirectory)
            else { return .null }
            object["glob"] = .string(argument)
            return .object(object)
        }
    }

    /// `{path, sha256, bytes}` for a file; `{path, kind: "directory", digest, fileCount,
    /// totalBytes, files}` for a directory; `{path, missing: true}` or `{path, error}`.
    static func record(_ path: String, workingDirectory: String, cacheDirectory: String?) -> JSONValue {
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
            let hasher = DatasetHasher(cacheDirectory: cacheDirectory)
            do {
                let result = try hasher.hash(path: DatasetSpec.absolutePath(path, workingDirectory: workingDirectory))
                guard case .object(var object) = DatasetsProbe.json(result, listFiles: true) else { return .null }
                object["path"] = .string(path)
                return .object(object)
            } catch {
                return ["path": .string(path), "error": .string(error.description)]
            }
        }
        do {
            let (digest, bytes) = try FileSHA256.sha256AndSize(path: path)
            return ["path": .string(path), "sha256": .string("sha256:" + digest), "bytes": .int(bytes)]
        } catch {
            return error.missing ? ["path": .string(path), "missing": true]
                : ["path": .string(path), "error": .string(error.description)]
        }
    }

    /// `glob(3)`: the paths matching `pattern`, sorted; none when nothing matches.
    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { index in result.gl_pathv[index].map { String(cString: $0) } }.sorted()
    }
}
