/// `datasets`: each dataset named with `--dataset NAME=PATH`, by name.
///
/// The data is an object mapping each name to a `Dataset` record (no wrapper key).
public struct DatasetsSection: SectionModel {
    public static let sectionID = "datasets"
    public static var listIdentities: [String: String] {
        ["*.files": "path", "*.symlinks": "path", "*.skipped": "path"]
    }

    /// Dataset name → what was hashed.
    public var datasets: [String: Dataset]

    public init(datasets: [String: Dataset] = [:]) { self.datasets = datasets }

    public var summary: String {
        datasets.keys.sorted().map { name in
            let d = datasets[name]!
            return "\(name): \(d.fileCount) file\(d.fileCount == 1 ? "" : "s"), \(d.totalBytes) bytes, \(d.digest)"
        }.joined(separator: "; ")
    }

    /// One dataset: `{path, realPath?, kind, digest, fileCount, totalBytes, files?, symlinks, skipped}`.
    public struct Dataset: Codable, Equatable, Sendable {
        /// The path as given (absolute).
        public var path: String
        /// The path with every symbolic link resolved, when it differs from `path`.
        public var realPath: String?
        /// `file` or `directory`.
        public var kind: String
        /// `sha256:` of the dataset's listing (`sha256sum`-format lines sorted by path bytes).
        public var digest: String
        public var fileCount: Int64
        public var totalBytes: Int64
        /// Every hashed regular file, sorted by path bytes; absent when the listing is in a sidecar.
        public var files: [File]?
        /// Symbolic links, never followed, sorted by path bytes.
        public var symlinks: [Symlink]
        /// Entries not hashed, sorted by path bytes.
        public var skipped: [Skipped]

        public init(path: String, realPath: String? = nil, kind: String, digest: String, fileCount: Int64, totalBytes: Int64,
                    files: [File]? = nil, symlinks: [Symlink] = [], skipped: [Skipped] = [])
        {
            self.path = path
            self.realPath = realPath
            self.kind = kind
            self.digest = digest
            self.fileCount = fileCount
            self.totalBytes = totalBytes
            self.files = files
            self.symlinks = symlinks
            self.skipped = skipped
        }

        /// The record as one JSON value: a dataset may list 100,000 files, too many for keyed containers.
        var json: JSONValue {
            func pathFields(_ path: String, _ bytes: String?) -> [String: JSONValue] {
                var object: [String: JSONValue] = ["path": .string(path)]
                if let bytes { object["pathBytes"] = .string(bytes) }
                return object
            }
            var record: [String: JSONValue] = [
                "path": .string(path), "kind": .string(kind), "digest": .string(digest),
                "fileCount": .int(fileCount), "totalBytes": .int(totalBytes),
                "symlinks": .array(symlinks.map { link in
                    var object = pathFields(link.path, link.pathBytes)
                    object["target"] = .string(link.target)
                    if let bytes = link.targetBytes { object["targetBytes"] = .string(bytes) }
                    object["resolves"] = .string(link.resolves)
                    return .object(object)
                }),
                "skipped": .array(skipped.map { skip in
                    var object = pathFields(skip.path, skip.pathBytes)
                    object["kind"] = .string(skip.kind)
                    object["reason"] = .string(skip.reason)
                    return .object(object)
                }),
            ]
            if let realPath { record["realPath"] = .string(realPath) }
            if let files {
                record["files"] = .array(files.map { file in
                    var object = pathFields(file.path, file.pathBytes)
                    object["sizeBytes"] = .int(file.sizeBytes)
                    object["sha256"] = .string(file.sha256)
                    return .object(object)
                })
            }
            return .object(record)
        }
    }

    /// A hashed regular file. `pathBytes` holds the exact path bytes in base64 when they are not
    /// valid UTF-8 (`path` then has U+FFFD in place of each invalid sequence).
    public struct File: Codable, Equatable, Sendable {
        public var path: String
        public var pathBytes: String?
        public var sizeBytes: Int64
        /// Hex SHA-256 of the content.
        public var sha256: String

        public init(path: String, pathBytes: String? = nil, sizeBytes: Int64, sha256: String) {
            self.path = path
            self.pathBytes = pathBytes
            self.sizeBytes = sizeBytes
            self.sha256 = sha256
        }
    }

    /// A symbolic link and where it leads.
    public struct Symlink: Codable, Equatable, Sendable {
        public var path: String
        public var pathBytes: String?
        public var target: String
        public var targetBytes: String?
        /// `inside`, `outside`, `dangling`, `loop` or `unresolvable`.
        public var resolves: String

        public init(path: String, pathBytes: String? = nil, target: String, targetBytes: String? = nil, resolves: String) {
            self.path = path
            self.pathBytes = pathBytes
            self.target = target
            self.targetBytes = targetBytes
            self.resolves = resolves
        }
    }

    /// An entry that was not hashed: `fifo`, `socket`, `blockDevice`, `characterDevice`,
    /// `unreadable`, `changed`, `vanished` or `directoryLoop`, and why.
    public struct Skipped: Codable, Equatable, Sendable {
        public var path: String
        public var pathBytes: String?
        public var kind: String
        public var reason: String

        public init(path: String, pathBytes: String? = nil, kind: String, reason: String) {
            self.path = path
            self.pathBytes = pathBytes
            self.kind = kind
            self.reason = reason
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(JSONValue.object(datasets.mapValues(\.json)))
    }

    public init(from decoder: any Decoder) throws {
        datasets = try decoder.singleValueContainer().decode([String: Dataset].self)
    }
}
