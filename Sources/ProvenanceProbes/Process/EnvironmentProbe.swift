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

    /// The allow-list in force: the defaults, then `extraPatterns`, then `PROVENANCE_ENV_ALLOW`
    /// of `environment` (comma-separated).
    public static func allowList(extraPatterns: [String], environment: [String: String]) -> [String] {
        var patterns = defaultAllowList + extraPatterns
        if let extra = environment["PROVENANCE_ENV_ALLOW"] {
            patterns += extra.split(separator: ",").map { $0.trimmed }.filter { !$0.isEmpty }
        }
        return patterns
    }

    /// A recorded manifest's environment section cut down to the variables the *verifier's*
    /// allow-list (`allowList(extraPatterns:environment:)` on the verifying side) admits.
    ///
    /// `verify` never takes the allow-list from the manifest it is given: a hostile manifest
    /// recording `extraPatterns: ["*"]` would otherwise make the verifier record, and print, its
    /// own environment (CI tokens). Variables the recorded capture allowed but the verifier does
    /// not are not compared (pass the same `--env` patterns to `verify` to compare them).
    public static func restrictingRecorded(_ manifest: JSONValue, to patterns: [String]) -> JSONValue {
        guard case .object(var object) = manifest, case .object(var sections)? = object["sections"],
              case .object(var section)? = sections["environment"], case .object(var data)? = section["data"]
        else { return manifest }
        let allowed = NamePatterns(patterns)
        if case .object(let variables)? = data["variables"] {
            data["variables"] = .object(variables.filter { name, _ in allowed.match(name) })
        }
        if case .array(let masked)? = data["masked"] {
            data["masked"] = .array(masked.filter { name in name.stringValue.map(allowed.match) ?? false })
        }
        let extra = Array(patterns.dropFirst(defaultAllowList.count))
        data["extraPatterns"] = extra.isEmpty ? nil : .array(extra.map { .string($0) })
        section["data"] = .object(data)
        sections["environment"] = .object(section)
        object["sections"] = .object(sections)
        return .object(object)
    }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let patterns = allowList(context.environment)
        let userPatterns = patterns.dropFirst(Self.defaultAllowList.count)
        let variables = Self.recordable(context.environment, patterns: patterns)
        let masked = variables.filter { $0.value == Secrets.mask }.map(\.key)
        return Output(variables: variables, masked: masked.sorted(),
                      extraPatterns: userPatterns.isEmpty ? nil : Array(userPatterns))
    }

    /// The patterns in force for `environment`: the defaults, `extraPatterns` (`--env`), then
    /// those of `PROVENANCE_ENV_ALLOW`.
    public func allowList(_ environment: [String: String]) -> [String] {
        Self.allowList(extraPatterns: extraPatterns, environment: environment)
    }

    /// The variables of `environment` matching `patterns`, as they may be recorded (secrets
    /// masked): what the section holds, and all a recording of the machine keeps of its
    /// environment (`provenance record`).
    public static func recordable(_ environment: [String: String], patterns: [String]) -> [String: String] {
        let patterns = NamePatterns(patterns)
        var variables: [String: String] = [:]
        for (name, value) in environment where patterns.match(name) {
            variables[name] = Secrets.maskValue(value, name: name)
        }
        return variables
    }

    /// The environment a recording of the machine holds (`proc/self/environ`), such that the
    /// probe there records what it records here: the recordable variables, plus
    /// `PROVENANCE_ENV_ALLOW` carrying the patterns beyond the defaults.
    public func recordedEnvironment(_ environment: [String: String]) -> [String: String] {
        let patterns = allowList(environment)
        var recorded = Self.recordable(environment, patterns: patterns)
        let userPatterns = patterns.dropFirst(Self.defaultAllowList.count)
        if !userPatterns.isEmpty {
            recorded["PROVENANCE_ENV_ALLOW"] = Secrets.maskValue(userPatterns.joined(separator: ","), name: "PROVENANCE_ENV_ALLOW")
        }
        return recorded
    }

    /// The raw values of `environment` that masking hides, whole and the parts of them it
    /// removes (the password of a URL): a recording must never hold them anywhere.
    public static func maskedValues(_ environment: [String: String]) -> [String] {
        var secrets: [String] = []
        for (name, value) in environment {
            secrets += Secrets.maskedParts(raw: value, masked: Secrets.maskValue(value, name: name))
        }
        return secrets
    }
}

/// Matches a variable name against a pattern where `*` stands for any run of characters (the
/// same match as a declared read's file-name component, `MachinePathPattern.globMatches`).
public func matchesNamePattern(_ pattern: String, _ name: String) -> Bool {
    MachinePathPattern.globMatches(pattern, name)
}

/// Name patterns made ready to match many names: `match(name)` is whether any pattern matches
/// (`matchesNamePattern`). Patterns without `*` are looked up in a set (a match without `*` is
/// `==`), `PREFIX*` patterns are compared as bytes with names that are ASCII without CR (where
/// bytes stand for characters), the rest are matched one by one. Matching each variable against
/// the hundred-odd allow-list patterns one at a time was 4% of a capture's CPU (2 cores, 35
/// variables).
public struct NamePatterns {
    private let exact: Set<String>
    private let prefixes: [[UInt8]]
    /// The `PREFIX*` patterns as written, for names that are not ASCII.
    private let prefixPatterns: [String]
    private let others: [String]

    public init(_ patterns: [String]) {
        var exact: Set<String> = []
        var prefixes: [[UInt8]] = []
        var prefixPatterns: [String] = []
        var others: [String] = []
        for pattern in patterns {
            let bytes = Array(pattern.utf8)
            guard let star = bytes.firstIndex(of: UInt8(ascii: "*")) else {
                exact.insert(pattern)
                continue
            }
            if star == bytes.count - 1, isOneCharacterPerByte(bytes) {
                prefixes.append(Array(bytes.dropLast()))
                prefixPatterns.append(pattern)
            } else {
                others.append(pattern)
            }
        }
        self.exact = exact
        self.prefixes = prefixes
        self.prefixPatterns = prefixPatterns
        self.others = others
    }

    /// Whether any of the patterns matches `name`.
    public func match(_ name: String) -> Bool {
        if exact.contains(name) { return true }
        var name = name
        let byPrefix = name.withUTF8 { bytes -> Bool? in
            guard isOneCharacterPerByte(bytes) else { return nil }
            return prefixes.contains { prefix in
                prefix.count <= bytes.count && prefix.withUnsafeBufferPointer { $0.elementsEqual(bytes.prefix(prefix.count)) }
            }
        }
        if byPrefix ?? prefixPatterns.contains(where: { matchesNamePattern($0, name) }) { return true }
        return others.contains { matchesNamePattern($0, name) }
    }
}
