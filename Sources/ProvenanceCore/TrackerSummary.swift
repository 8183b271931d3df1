/// The few facts of a manifest that experiment trackers should carry with every run (MLflow
/// tags, W&B config): fingerprint, code commit and whether it was dirty, GPUs as "N × model",
/// driver and its CUDA, the CUDA toolkit, the container image, and the run directory.
///
/// Keys are `provenance.<name>`; values are strings within MLflow's tag limits (keys ≤ 250,
/// values ≤ 5,000 characters, the older and smaller of MLflow's two value limits).
public struct TrackerSummary: Sendable, Equatable {
    public private(set) var values: [String: String] = [:]

    public static let maxValueCharacters = 5000

    public init(manifest: JSONValue, runDirectory: String?) {
        let sections = manifest["sections"]
        func data(_ id: String) -> JSONValue? {
            guard let section = sections?[id], ["ok", "partial"].contains(section["status"]?.stringValue ?? "") else { return nil }
            return section["data"]
        }
        set("fingerprint", manifest["fingerprint"]?.stringValue)
        if let repository = data("git")?["repositories"]?.arrayValue?.first {
            set("git.commit", repository["commit"]?.stringValue)
            let status = repository["status"]
            let changed = ["staged", "unstaged", "untracked", "conflicted"].contains { (status?[$0]?["count"]?.intValue ?? 0) > 0 }
            set("git.dirty", changed ? "true" : "false")
            if changed { set("git.patch", repository["diff"]?["sha256"]?.stringValue) }
        }
        if let nvidia = data("gpu.nvidia") {
            var counts: [String: Int] = [:]
            for gpu in nvidia["gpus"]?.arrayValue ?? [] { counts[gpu["productName"]?.stringValue ?? "NVIDIA GPU", default: 0] += 1 }
            set("gpu", counts.keys.sorted().map { "\(counts[$0]!) × \($0)" }.joined(separator: " + "))
            set("gpu.driver", nvidia["driverVersion"]?.stringValue)
            set("gpu.driver_cuda", nvidia["cudaDriverVersion"]?.stringValue)
        }
        set("cuda.toolkit", data("cuda")?["toolkit"]?["version"]?.stringValue)
        if let container = data("container") {
            set("image", container["imageName"]?.stringValue)
            set("image.digest", container["imageDigest"]?.stringValue ?? container["imageId"]?.stringValue)
        }
        set("run_dir", runDirectory)
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
