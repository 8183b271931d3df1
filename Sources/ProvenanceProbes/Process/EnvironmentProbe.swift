import ProvenanceCore
import ProvenanceProbeKit

/// Environment variables that change results, by allow-list, with secrets masked.
///
/// Reads the process environment (live: this process's; recorded: `proc/self/environ`). Only
/// variables matching `EnvironmentProbe.defaultAllowList` or the user's additions
/// (`capture --env PATTERN`, `PROVENANCE_ENV_ALLOW=PATTERN,...`) are recorded. A value is
/// masked when its name looks secret (`HF_TOKEN`, `WANDB_API_KEY`) or the value looks like a
/// credential (`ghp_…`, `AKIA…`), and credentials in URLs are stripped.
public struct EnvironmentProbe: Probe {
    /// Patterns (`*` = any run of characters) of variables that change numerical results,
    /// performance-determinism or which libraries load.
    public static let defaultAllowList = [
        "CUDA_*", "CUDNN_*", "CUBLAS_*", "CUBLASLT_*", "NCCL_*", "NVIDIA_*", "NV_*", "TORCH_*", "PYTORCH_*",
        "TF_*", "XLA_*", "JAX_*", "HF_*", "TRANSFORMERS_*", "TOKENIZERS_*", "WANDB_*", "MLFLOW_*",
        "OMP_*", "GOMP_*", "KMP_*", "MKL_*", "OPENBLAS_*", "BLIS_*", "VECLIB_*", "NUMEXPR_*",
        "ROCR_*", "HIP_*", "HSA_*", "ROCM_*", "MIOPEN_*", "UCX_*", "OMPI_*", "I_MPI_*", "MPICH_*", "FI_*",
        "PYTHONHASHSEED", "PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONOPTIMIZE", "PYTHONUTF8", "VIRTUAL_ENV",
        "CONDA_PREFIX", "CONDA_DEFAULT_ENV", "LD_LIBRARY_PATH", "LD_PRELOAD", "PATH", "MALLOC_*",
        "LANG", "LC_*", "TZ", "SOURCE_DATE_EPOCH",
    ]

    public let extraPatterns: [String]

    public init(extraPatterns: [String] = []) {
        self.extraPatterns = extraPatterns
    }

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "environment", version: "1.0.0",
            summary: "Allow-listed environment variables that change results (CUDA_*, NCCL_*, OMP_*, "
                + "PYTHONHASHSEED, ...), secret-looking values masked",
            reads: ["the process environment (recorded: /proc/self/environ)"])
    }

    public typealias Output = EnvironmentSection

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        var patterns = Self.defaultAllowList + extraPatterns
        if let extra = context.environment["PROVENANCE_ENV_ALLOW"] {
            patterns += extra.split(separator: ",").map { $0.trimmed }.filter { !$0.isEmpty }
        }
        let userPatterns = patterns.dropFirst(Self.defaultAllowList.count)
        var variables: [String: String] = [:]
        var masked: [String] = []
        for (name, value) in context.environment where patterns.contains(where: { matchesNamePattern($0, name) }) {
            let recorded = Secrets.maskValue(value, name: name)
            if recorded == Secrets.mask { masked.append(name) }
            variables[name] = recorded
        }
        return Output(variables: variables, masked: masked.sorted(),
                      extraPatterns: userPatterns.isEmpty ? nil : Array(userPatterns))
    }
}

/// Matches a variable name against a pattern where `*` stands for any run of characters.
public func matchesNamePattern(_ pattern: String, _ name: String) -> Bool {
    let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
    if parts.count == 1 { return pattern == name }
    guard name.hasPrefix(parts[0]) else { return false }
    var rest = Substring(name.dropFirst(parts[0].count))
    for (index, part) in parts.enumerated().dropFirst() {
        if index == parts.count - 1 { return part.isEmpty || rest.hasSuffix(part) }
        guard !part.isEmpty else { continue }
        guard let range = rest.firstRange(of: part) else { return false }
        rest = rest[range.upperBound...]
    }
    return true
}
