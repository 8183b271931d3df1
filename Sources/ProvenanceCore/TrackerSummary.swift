/// The few facts of a manifest that experiment trackers should carry with every run (MLflow
/// tags, W&B config): fingerprint, code commit and whether it was dirty, GPUs as "N × model",
/// driver and its CUDA, the CUDA toolkit, the container image, and the run directory.
///
/// Read through the section models. Keys are `provenance.<name>`; values are strings within MLflow's tag limits (keys ≤ 250,
/// values ≤ 5,000 characters, the older and smaller of MLflow's two value limits).
public struct TrackerSummary: Sendable, Equatable {
    public private(set) var values: [String: String] = [:]

    public static let maxValueCharacters = 5000

    public init(manifest: JSONValue, runDirectory: String?) {
        // Only sections that finished (ok, partial) have data to decode.
        func model<M: SectionModel>(_ type: M.Type) -> M? { M.read(from: manifest) }
        set("fingerprint", manifest["fingerprint"]?.stringValue)
        if let repository = model(GitSection.self)?.repositories.first {
            set("git.commit", repository.commit)
            let changed = repository.status.map { [$0.staged, $0.unstaged, $0.untracked, $0.conflicted].contains { $0.count > 0 } }
                ?? false
            set("git.dirty", changed ? "true" : "false")
            if changed { set("git.patch", repository.diff?.sha256) }
        }
        if let nvidia = model(NVIDIASection.self) {
            var counts: [String: Int] = [:]
            for gpu in nvidia.gpus { counts[gpu.productName ?? "NVIDIA GPU", default: 0] += 1 }
            set("gpu", counts.keys.sorted().map { "\(counts[$0]!) × \($0)" }.joined(separator: " + "))
            set("gpu.driver", nvidia.driverVersion)
            set("gpu.driver_cuda", nvidia.cudaDriverVersion)
        }
        set("cuda.toolkit", model(CUDASection.self)?.toolkit?.version)
        if let container = model(ContainerSection.self) {
            set("image", container.imageName)
            set("image.digest", container.imageDigest ?? container.imageId)
        }
        set("run_dir", runDirectory)
    }

    /// The summary of a manifest just captured, whose fingerprint is known: only the sections it
    /// reads are made into JSON (the data of the others, remembered sections among them, is
    /// never parsed).
    public init(manifest: Manifest, fingerprint: String, runDirectory: String?) {
        var sections: [String: JSONValue] = [:]
        for id in [GitSection.sectionID, NVIDIASection.sectionID, CUDASection.sectionID, ContainerSection.sectionID] {
            if let section = manifest.sections[id] { sections[id] = section.json }
        }
        self.init(manifest: ["fingerprint": .string(fingerprint), "sections": .object(sections)], runDirectory: runDirectory)
    }

    private mutating func set(_ name: String, _ value: String?) {
        guard let value, !value.isEmpty else { return }
        values["provenance." + name] = String(value.prefix(Self.maxValueCharacters))
    }

    /// The value of `MLFLOW_RUN_CONTEXT`: a JSON object of tags, which MLflow puts on every run
    /// the job starts.
    public var mlflowRunContext: String {
        String(decoding: CanonicalJSON.serialize(.object(values.mapValues { .string($0) })), as: UTF8.self)
    }

    /// A YAML file for `wandb.init(config=PATH)`: the same summary as W&B config values
    /// (`key: {value: …}`, the form W&B's config files take), every value a quoted string.
    public var wandbConfigYAML: String {
        values.keys.sorted().map { key in
            "\(key):\n  value: \(String(decoding: CanonicalJSON.serialize(.string(values[key]!)), as: UTF8.self))\n"
        }.joined()
    }
}
