/// The determinism settings the ML frameworks document, checked against a job's environment when
/// its Python has the framework: what is unset is advice (a warning on standard error and in the
/// run section, and in render), never a reason to stop the job.
///
/// Sources: PyTorch "Reproducibility" notes (CUBLAS_WORKSPACE_CONFIG=:4096:8 or :16:8 for
/// deterministic cuBLAS on CUDA ≥ 10.2); TensorFlow's `TF_DETERMINISTIC_OPS=1` (and
/// `TF_CUDNN_DETERMINISTIC=1` before 2.8); XLA's `--xla_gpu_deterministic_ops=true` for JAX;
/// Python's `PYTHONHASHSEED` for every framework (hash randomisation changes set and dict order).
public enum DeterminismChecklist {
    public struct Advice: Codable, Equatable, Sendable {
        /// The framework installed that asks for the setting (`torch`, `tensorflow`, `jax`, `python`).
        public var framework: String
        public var variable: String
        /// A value that makes the framework deterministic.
        public var recommended: String
        public var reason: String
    }

    /// The settings missing from `environment` for the frameworks among `distributions`
    /// (normalised names), sorted by framework and variable.
    public static func advice(distributions: Set<String>, environment: [String: String]) -> [Advice] {
        var result: [Advice] = []
        func missing(_ variable: String, _ satisfied: (String) -> Bool) -> Bool {
            guard let value = environment[variable] else { return true }
            return !satisfied(value)
        }
        let frameworks = distributions.intersection(["torch", "tensorflow", "tensorflow-cpu", "jax", "jaxlib"])
        guard !frameworks.isEmpty else { return [] }
        if frameworks.contains("torch"), missing("CUBLAS_WORKSPACE_CONFIG", { $0 == ":4096:8" || $0 == ":16:8" }) {
            result.append(Advice(framework: "torch", variable: "CUBLAS_WORKSPACE_CONFIG", recommended: ":4096:8",
                                 reason: "cuBLAS is not deterministic on CUDA 10.2+ without it (torch.use_deterministic_algorithms raises)"))
        }
        if !frameworks.isDisjoint(with: ["tensorflow", "tensorflow-cpu"]), missing("TF_DETERMINISTIC_OPS", { $0 == "1" || $0 == "true" }) {
            result.append(Advice(framework: "tensorflow", variable: "TF_DETERMINISTIC_OPS", recommended: "1",
                                 reason: "TensorFlow picks non-deterministic GPU kernels otherwise"))
        }
        if !frameworks.isDisjoint(with: ["jax", "jaxlib"]), missing("XLA_FLAGS", { $0.contains("--xla_gpu_deterministic_ops=true") }) {
            result.append(Advice(framework: "jax", variable: "XLA_FLAGS", recommended: "--xla_gpu_deterministic_ops=true",
                                 reason: "XLA's GPU reductions and scatters are not deterministic otherwise"))
        }
        if missing("PYTHONHASHSEED", { Int($0) != nil }) {
            result.append(Advice(framework: "python", variable: "PYTHONHASHSEED", recommended: "0",
                                 reason: "string hashes, and so set and dict iteration order, change from run to run"))
        }
        return result
    }
}
