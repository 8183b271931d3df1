import ProvenanceCore

// Pure parsers for what ML frameworks and NVIDIA wheels leave on disk. Python files are read as
// text, never executed: only the literal assignments their builds generate are understood.

/// A Python literal as the generated version files write them.
public enum PythonLiteral: Equatable, Sendable {
    case string(String)
    case bool(Bool)
    case none
    case list([String])

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}

/// Top-level assignments of literals in a Python file: `name = 'value'`,
/// `name: Optional[str] = '12.4'`, `name = None`, `name = True`, `name = ['a', 'b']`.
/// Other lines are ignored; CRLF line ends are accepted (torch files committed from Windows).
public func parsePythonAssignments(_ text: String) -> [String: PythonLiteral] {
    var values: [String: PythonLiteral] = [:]
    for rawLine in text.lines {
        var line = Substring(rawLine)
        if line.hasSuffix("\r") { line = line.dropLast() }
        guard let first = line.first, first.isLetter || first == "_" else { continue }
        guard let equals = line.firstIndex(of: "=") else { continue }
        var name = line[..<equals]
        if let colon = name.firstIndex(of: ":") { name = name[..<colon] }  // annotated assignment
        let key = name.trimmed
        guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { continue }
        let rest = line[line.index(after: equals)...]
        guard !rest.hasPrefix("=") else { continue }  // a comparison, not an assignment
        var tokens = PythonTokens(rest)
        if let literal = tokens.literal(), tokens.atEnd { values[key] = literal }
    }
    return values
}

/// What `torch/version.py` states.
public struct TorchVersionFile: Equatable, Sendable {
    /// `__version__` (`2.5.1+cu124`).
    public var version: String?
    /// `cuda` (`12.4`), nil for a CPU or ROCm build.
    public var cuda: String?
    /// `hip` (ROCm builds).
    public var hip: String?
    /// `git_version` (a commit id, or `Unknown` for some source builds: then nil).
    public var gitVersion: String?
}

/// Parses `torch/version.py` (every format from torch 0.4, which has only `__version__`, `debug`
/// and `cuda`, to 2.11 with `rocm` and `xpu`).
public func parseTorchVersionFile(_ text: String) -> TorchVersionFile {
    let values = parsePythonAssignments(text)
    let git = values["git_version"]?.stringValue
    return TorchVersionFile(version: values["__version__"]?.stringValue, cuda: values["cuda"]?.stringValue,
                            hip: values["hip"]?.stringValue,
                            gitVersion: git == "Unknown" || git?.isEmpty == true ? nil : git)
}

/// The version a jax or jaxlib `version.py` states: `_release_version` (filled in by release
/// builds), else `_version`.
public func parseJaxVersionFile(_ text: String) -> String? {
    let values = parsePythonAssignments(text)
    return values["_release_version"]?.stringValue ?? values["_version"]?.stringValue
}

/// What TensorFlow's generated `tensorflow/python/platform/build_info.py` states.
public struct TensorFlowBuildInfo: Equatable, Sendable {
    public var cudaVersion: String?
    public var cudnnVersion: String?
    public var isCUDABuild: Bool?
    public var isROCmBuild: Bool?
    public var computeCapabilities: [String]?
}

/// Parses `build_info.py`: TF 2.4 and later write `build_info = collections.OrderedDict([('key',
/// value), …])`; TF 2.1–2.3 wrote module variables (`cuda_version_number = '10.1'`).
public func parseTensorFlowBuildInfo(_ text: String) -> TensorFlowBuildInfo {
    var pairs: [String: PythonLiteral] = [:]
    // ('key', value) tuples anywhere in the file.
    var tokens = PythonTokens(Substring(text))
    var window: [PythonTokens.Token] = []
    while let token = tokens.next() {
        window.append(token)
        if window.count > 5 { window.removeFirst() }
        // ( 'key' , — then a literal follows.
        if window.count >= 3, case .punct("(") = window[window.count - 3], case .string(let key) = window[window.count - 2],
           case .punct(",") = window[window.count - 1], let value = tokens.literal()
        {
            pairs[key] = value
            window.removeAll()
        }
    }
    for (key, value) in parsePythonAssignments(text) where pairs[key] == nil { pairs[key] = value }
    func bool(_ key: String) -> Bool? {
        if case .bool(let value)? = pairs[key] { return value }
        return nil
    }
    var info = TensorFlowBuildInfo()
    info.cudaVersion = (pairs["cuda_version"] ?? pairs["cuda_version_number"])?.stringValue
    info.cudnnVersion = (pairs["cudnn_version"] ?? pairs["cudnn_version_number"])?.stringValue
    info.isCUDABuild = bool("is_cuda_build")
    info.isROCmBuild = bool("is_rocm_build")
    if case .list(let list)? = pairs["cuda_compute_capabilities"] { info.computeCapabilities = list }
    return info
}

/// A small tokenizer for the Python literals above: strings ('…', "…"), names, punctuation.
struct PythonTokens {
    enum Token: Equatable {
        case string(String)
        case name(String)
        case punct(Character)
    }

    var rest: Substring
    init(_ text: Substring) { rest = text }

    var atEnd: Bool {
        var copy = self
        copy.skipSpace()
        return copy.rest.isEmpty || copy.rest.hasPrefix("#")
    }

    mutating func skipSpace() {
        while let c = rest.first, c == " " || c == "\t" || c == "\r" || c == "\n" { rest = rest.dropFirst() }
    }

    mutating func next() -> Token? {
        skipSpace()
        guard let c = rest.first else { return nil }
        if c == "#" {
            rest = rest.drop { $0 != "\n" }
            return next()
        }
        if c == "'" || c == "\"" {
            rest = rest.dropFirst()
            var value = ""
            while let d = rest.first, d != c, d != "\n" {
                if d == "\\", rest.count > 1 {
                    rest = rest.dropFirst()
                }
                value.append(rest.first!)
                rest = rest.dropFirst()
            }
            rest = rest.dropFirst()
            return .string(value)
        }
        if c.isLetter || c == "_" || c.isNumber {
            let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }
            rest = rest.dropFirst(name.count)
            return .name(String(name))
        }
        rest = rest.dropFirst()
        return .punct(c)
    }

    /// A literal at the current position: string, True/False/None, or a list of strings.
    mutating func literal() -> PythonLiteral? {
        var copy = self
        guard let token = copy.next() else { return nil }
        switch token {
        case .string(let value):
            self = copy
            return .string(value)
        case .name("True"): self = copy; return .bool(true)
        case .name("False"): self = copy; return .bool(false)
        case .name("None"): self = copy; return PythonLiteral.none
        case .punct("["):
            var items: [String] = []
            while let item = copy.next() {
                switch item {
                case .string(let value): items.append(value)
                case .punct(","): continue
                case .punct("]"):
                    self = copy
                    return .list(items)
                default: return nil
                }
            }
            return nil
        default: return nil
        }
    }
}

/// One `Requires-Dist` of core metadata.
public struct Requirement: Equatable, Sendable {
    /// The distribution name as written (`nvidia-cudnn-cu12`).
    public var name: String
    /// Extras requested of it (`cuda-toolkit[cublas,cudart]` → `cublas`, `cudart`).
    public var extras: [String]
    /// The version specifier without spaces or parentheses (`==9.1.0.70`, `<13,>=12.9.4`); nil when none.
    public var specifier: String?
    /// The environment marker after `;`, as written.
    public var marker: String?
    /// The extra the marker limits it to (`extra == 'and-cuda'`).
    public var extra: String?
}

/// The `Requires-Dist` headers of core metadata (`METADATA`), in order. Both forms:
/// `nvidia-cudnn-cu12 (==9.1.0.70) ; platform_system == "Linux"` (Metadata 2.1) and
/// `cuda-toolkit[cublas,cudart]==12.8.1; platform_system == "Linux"` (2.4).
public func parseRequiresDist(_ metadata: String) -> [Requirement] {
    var requirements: [Requirement] = []
    for rawLine in metadata.lines {
        var line = Substring(rawLine)
        if line.hasSuffix("\r") { line = line.dropLast() }
        if line.isEmpty { break }  // the headers end at the first blank line
        guard line.hasPrefix("Requires-Dist:") else { continue }
        var body = line.dropFirst("Requires-Dist:".count).trimmed[...]
        var marker: String?
        if let semicolon = body.firstIndex(of: ";") {
            marker = body[body.index(after: semicolon)...].trimmed
            body = body[..<semicolon]
        }
        let name = body.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
        guard !name.isEmpty else { continue }
        var rest = body.dropFirst(name.count).trimmed[...]
        var extras: [String] = []
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            extras = rest[rest.index(after: rest.startIndex)..<close].split(separator: ",").map { $0.trimmed }
            rest = rest[rest.index(after: close)...]
        }
        let specifier = String(rest.filter { $0 != " " && $0 != "(" && $0 != ")" })
        var extra: String?
        if let marker, let range = marker.firstRange(of: "extra ==") {
            let value = marker[range.upperBound...].trimmed
            if let quote = value.first, quote == "'" || quote == "\"" {
                extra = String(value.dropFirst().prefix { $0 != quote })
            }
        }
        requirements.append(Requirement(name: String(name), extras: extras,
                                        specifier: specifier.isEmpty ? nil : specifier, marker: marker, extra: extra))
    }
    return requirements
}

/// Whether `version` satisfies a PEP 440 specifier set (`==9.1.0.70`, `==12.8.90.*`,
/// `<13,>=12.9.4`, `~=2.1`, `!=1.0`). Local version labels (`+cu128`) are ignored on both sides,
/// pre-release tags compare by their numbers only. Nil when a clause cannot be read.
public func pep440Satisfies(_ version: String, _ specifier: String) -> Bool? {
    func release(_ text: Substring) -> [Int]? {
        let base = text.split(separator: "+", maxSplits: 1).first ?? ""
        var numbers: [Int] = []
        for part in base.split(separator: ".") {
            let digits = part.prefix { $0.isNumber }
            guard let value = Int(digits) else { return numbers.isEmpty ? nil : numbers }
            numbers.append(value)
            if digits.count != part.count { break }  // `0a0`, `post1`: stop at the tag
        }
        return numbers.isEmpty ? nil : numbers
    }
    func compare(_ a: [Int], _ b: [Int]) -> Int {
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        return 0
    }
    guard let have = release(Substring(version)) else { return nil }
    for clause in specifier.split(separator: ",") {
        let clause = clause.trimmed
        let op = clause.prefix { "<>=!~".contains($0) }
        var target = clause.dropFirst(op.count).trimmed[...]
        let wildcard = target.hasSuffix(".*")
        if wildcard { target = target.dropLast(2) }
        guard let want = release(target) else { return nil }
        let order = compare(have, want)
        switch op {
        case "==", "===":
            if wildcard {
                guard have.count >= want.count, Array(have.prefix(want.count)) == want else { return false }
            } else if order != 0 {
                return false
            }
        case "!=":
            if wildcard ? Array(have.prefix(want.count)) == want : order == 0 { return false }
        case ">=": if order < 0 { return false }
        case "<=": if order > 0 { return false }
        case ">": if order <= 0 { return false }
        case "<": if order >= 0 { return false }
        case "~=":
            guard want.count >= 2, order >= 0, Array(have.prefix(want.count - 1)) == Array(want.dropLast()) else {
                return false
            }
        default: return nil
        }
    }
    return true
}

/// The libraries an NVIDIA wheel provides and the CUDA major it is built for, from its name:
/// `nvidia-cuda-runtime-cu12` → (`cudart`, `12`); `nvidia-cudnn-cu13` → (`cudnn`, `13`);
/// CUDA 13 dropped the suffix for the toolkit's own libraries (`nvidia-cublas` 13.1) — then
/// the major is nil. Nil for names that are not NVIDIA library wheels.
public func nvidiaWheelLibraries(_ distribution: String) -> (libraries: [String], cudaMajor: String?)? {
    var name = normalizeDistributionName(distribution)
    guard name.hasPrefix("nvidia-") else { return nil }
    name.removeFirst("nvidia-".count)
    var major: String?
    let parts = name.split(separator: "-")
    if parts.count > 1, let last = parts.last, last.hasPrefix("cu"), last.count > 2, last.dropFirst(2).allSatisfy(\.isNumber) {
        major = String(last.dropFirst(2))
        name = parts.dropLast().joined(separator: "-")
    }
    guard let libraries = nvidiaWheelFamilies[name] else { return nil }
    return (libraries, major)
}

/// NVIDIA wheel names (without `nvidia-` and `-cuXX`) → the library families they install.
let nvidiaWheelFamilies: [String: [String]] = [
    "cuda-runtime": ["cudart"], "cudnn": ["cudnn"], "nccl": ["nccl"], "cublas": ["cublas", "cublasLt"],
    "cufft": ["cufft"], "curand": ["curand"], "cusolver": ["cusolver"], "cusparse": ["cusparse"],
    "cuda-nvrtc": ["nvrtc"], "nvjitlink": ["nvJitLink"], "cuda-cupti": ["cupti"], "nvtx": ["nvToolsExt"],
    "cusparselt": ["cusparseLt"], "nvshmem": ["nvshmem"], "cufile": ["cufile"], "cutensor": ["cutensor"],
]

/// `cuda-toolkit` meta-package extras (torch 2.11: `cuda-toolkit[cublas,cudart,…]`) → families.
let cudaToolkitExtraFamilies: [String: [String]] = [
    "cudart": ["cudart"], "cublas": ["cublas", "cublasLt"], "cufft": ["cufft"], "curand": ["curand"],
    "cusolver": ["cusolver"], "cusparse": ["cusparse"], "nvrtc": ["nvrtc"], "nvjitlink": ["nvJitLink"],
    "cupti": ["cupti"], "nvtx": ["nvToolsExt"], "cufile": ["cufile"],
]

/// The shared libraries a wheel's `RECORD` lists (`nvidia/cuda_runtime/lib/libcudart.so.12,sha256=…,size`),
/// in order: the paths of entries whose file name has `.so`.
public func parseRecordSharedLibraries(_ text: String) -> [String] {
    var paths: [String] = []
    for line in text.lines {
        // A path containing a comma is quoted (csv); library paths never are.
        guard let comma = line.firstIndex(of: ","), !line.hasPrefix("\"") else { continue }
        let path = line[..<comma]
        let file = path.split(separator: "/").last ?? ""
        if file.hasPrefix("lib"), file.contains(".so") { paths.append(String(path)) }
    }
    return paths
}
