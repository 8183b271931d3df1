import ProvenanceCore
import ProvenanceProbeKit

/// Datasets named with `--dataset NAME=PATH`: every regular file's SHA-256, size and path, a
/// dataset digest anyone can recompute with coreutils, symbolic links with their targets, and
/// what was skipped.
///
/// Reads every file under each PATH (through `DatasetHasher`), and the stat cache in
/// `$XDG_CACHE_HOME/provenance` (else `~/.cache/provenance`), which it also writes. Datasets are
/// live paths: under `--root` (a recorded machine) the probe fails rather than mix two machines
/// in one manifest, and the command line refuses the combination.
///
/// `data` maps each dataset name to a record (`json(_:listFiles:)`); a dataset with more files
/// than `listLimit` keeps its listing in a sidecar file the command line writes (its name is in
/// `volatile`, since it follows the manifest's file name). Read and cache counts are `volatile`.
public struct DatasetsProbe: Probe {
    public struct Configuration: Sendable {
        public var datasets: [DatasetSpec] = []
        /// The stat cache's directory; nil: no cache (`--no-cache`).
        public var cacheDirectory: String?
        /// A dataset with more files than this lists them in a sidecar, not in the manifest.
        public var listLimit = 100_000
        /// Per dataset name: list the files in the manifest or not, whatever `listLimit` says
        /// (`verify` lists them where the recorded manifest did).
        public var listFiles: [String: Bool] = [:]
        public var threads = availableCPUs()
        /// `env` for `env.json`: sidecars are `env.datasets.NAME.sha256`; nil: none are named.
        public var sidecarStem: String?
        public var progress: DatasetProgress?
        /// Whether to attach each dataset's `sha256sum -c` listing with absolute paths (`--sums`).
        public var sums = false

        public init() {}
    }

    public var configuration: Configuration

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "datasets", version: "1.0.0",
            summary: "Datasets named with --dataset NAME=PATH: SHA-256 of every regular file, a dataset digest "
                + "recomputable with coreutils, symbolic links and skipped entries",
            reads: ["every file under each --dataset PATH", "$XDG_CACHE_HOME/provenance/dataset-*.cache",
                    "~/.cache/provenance/dataset-*.cache"],
            enabledByDefault: false, timeoutSeconds: 604_800)
    }

    /// Problems listed one by one per dataset; the rest are counted in one issue.
    static let issuesPerDataset = 20

    public typealias Output = DatasetsSection

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        guard context.fs.isLive else {
            throw ProbeFailure("datasets are live paths: they are not hashed on a recorded machine (--root)")
        }
        guard !configuration.datasets.isEmpty else {
            throw ProbeAbsent(source: "--dataset", reason: "no dataset given")
        }
        var data: [String: DatasetsSection.Dataset] = [:]
        var volatile: [String: JSONValue] = [:]
        for spec in configuration.datasets {
            var hasher = DatasetHasher(cacheDirectory: configuration.cacheDirectory)
            hasher.threads = configuration.threads
            hasher.progress = configuration.progress
            configuration.progress?.begin(dataset: spec.name)
            let result: DatasetResult
            do {
                result = try hasher.hash(path: context.fs.hostPath(spec.path))
            } catch {
                report.issue(spec.path, "dataset \(spec.name): \(error.description)")
                continue
            }
            let listFiles = configuration.listFiles[spec.name] ?? (result.files.count <= configuration.listLimit)
            // The listings are the probe's output as much as its data: attached for the writer.
            if !listFiles, configuration.sidecarStem != nil {
                report.attach(result.listing, as: Self.sidecarArtifact(spec.name))
            }
            if configuration.sums {
                report.attach(DatasetListing.listing(result.files, prefix: Array(Self.sumsPrefix(of: result).utf8)),
                              as: Self.sumsArtifact(spec.name))
            }
            data[spec.name] = Self.record(result, listFiles: listFiles)

            var facts: [String: JSONValue] = [
                "filesRead": .int(Int64(result.statistics.filesRead)), "bytesRead": .int(result.statistics.bytesRead),
                "cacheHits": .int(Int64(result.statistics.cacheHits)), "cache": .string(result.statistics.cache),
            ]
            if let write = result.statistics.cacheWrite { facts["cacheWrite"] = .string(write) }
            if !listFiles, let stem = configuration.sidecarStem {
                facts["sidecar"] = .string(Self.sidecarName(stem: stem, dataset: spec.name))
            }
            volatile[spec.name] = .object(facts)

            let problems = result.skipped.filter(\.isProblem)
            for skip in problems.prefix(Self.issuesPerDataset) {
                report.issue(spec.path + "/" + DatasetListing.jsonPath(skip.path).text, "\(skip.kind.rawValue): \(skip.reason)")
            }
            if problems.count > Self.issuesPerDataset {
                report.issue(spec.path, "\(problems.count - Self.issuesPerDataset) more files could not be hashed (see skipped)")
            }
        }
        report.volatile = .object(volatile)
        return DatasetsSection(datasets: data)
    }

    /// The artifact key of a dataset's sidecar listing (relative paths, `sha256sum` format).
    public static func sidecarArtifact(_ dataset: String) -> String { "sidecar:" + dataset }

    /// The artifact key of a dataset's `--sums` listing (absolute paths).
    public static func sumsArtifact(_ dataset: String) -> String { "sums:" + dataset }

    /// The sidecar file of a dataset, beside the manifest: `env` → `env.datasets.NAME.sha256`.
    public static func sidecarName(stem: String, dataset: String) -> String {
        "\(stem).datasets.\(dataset).sha256"
    }

    /// What precedes a dataset's relative paths in `--sums`: the directory's path and `/` (for a
    /// single-file dataset, its directory's), so `sha256sum -c` works from any directory.
    public static func sumsPrefix(of result: DatasetResult) -> String {
        var directory = result.path
        if result.kind == .file, let slash = directory.lastIndex(of: "/") {
            directory = String(directory[..<slash])
        }
        return directory.hasSuffix("/") ? directory : directory + "/"
    }

    /// A dataset's record in the manifest (`DatasetsSection.Dataset`), paths as
    /// `DatasetListing.jsonPath` writes them.
    public static func record(_ result: DatasetResult, listFiles: Bool) -> DatasetsSection.Dataset {
        DatasetsSection.Dataset(
            path: result.path, realPath: result.realPath != result.path ? result.realPath : nil,
            kind: result.kind.rawValue, digest: "sha256:" + result.digest.hex, fileCount: Int64(result.files.count),
            totalBytes: result.totalBytes,
            files: listFiles
                ? result.files.map { file in
                    let path = DatasetListing.jsonPath(file.path)
                    return DatasetsSection.File(path: path.text, pathBytes: path.base64, sizeBytes: file.size, sha256: file.digest.hex)
                } : nil,
            symlinks: result.symlinks.map { link in
                let path = DatasetListing.jsonPath(link.path), target = DatasetListing.jsonPath(link.target)
                return DatasetsSection.Symlink(path: path.text, pathBytes: path.base64, target: target.text,
                                               targetBytes: target.base64, resolves: link.resolution.rawValue)
            },
            skipped: result.skipped.map { skip in
                let path = DatasetListing.jsonPath(skip.path)
                return DatasetsSection.Skipped(path: path.text, pathBytes: path.base64, kind: skip.kind.rawValue, reason: skip.reason)
            })
    }

    /// A dataset's record as the manifest holds it: `{path, realPath?, kind, digest, fileCount,
    /// totalBytes, files?, symlinks, skipped}`.
    public static func json(_ result: DatasetResult, listFiles: Bool) -> JSONValue {
        (try? JSONValueEncoder().encode(DatasetsSection(datasets: ["_": record(result, listFiles: listFiles)])))?["_"] ?? .null
    }
}
