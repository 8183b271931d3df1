// The cuda section's view of Python ML frameworks and the NVIDIA wheels installed beside them.
// Pure data: the probe that fills these is `CUDAProbe` (Sources/ProvenanceProbes/GPU/).

/// One NVIDIA library wheel installed in the job's Python (`nvidia-cuda-runtime-cu12`,
/// `nvidia-cudnn-cu12`, the suffix-less CUDA 13 `nvidia-cublas`, …).
public struct CUDAWheel: Codable, Equatable, Sendable {
    /// The distribution name as its metadata states it (`nvidia-cuda-runtime-cu12`).
    public var name: String
    /// Its version (`12.4.127`).
    public var version: String
    /// The library families it provides (`cudart`; `cublas` and `cublasLt`).
    public var libraries: [String]
    /// The CUDA major release it is built for: `12` for `-cu12`; for CUDA 13's suffix-less
    /// toolkit wheels (`nvidia-cublas` 13.1.0.3), the version's major; else nil.
    public var cudaMajor: String?
    /// The site directory it is installed in.
    public var location: String
    /// The shared libraries it installed (from its `RECORD`), paths under `location`, sorted;
    /// nil when the wheel has no RECORD.
    public var files: [String]?

    public init(name: String, version: String, libraries: [String], cudaMajor: String?, location: String,
                files: [String]? = nil)
    {
        self.name = name
        self.version = version
        self.libraries = libraries
        self.cudaMajor = cudaMajor
        self.location = location
        self.files = files
    }
}

/// What a framework's metadata requires of one distribution, and what is installed.
public struct FrameworkPin: Codable, Equatable, Sendable {
    /// The required distribution (`nvidia-cudnn-cu12`).
    public var name: String
    /// The version specifier as written (`==9.1.0.70`, `<13,>=12.9.4`); nil when unpinned.
    public var specifier: String?
    /// Extras requested of it (`cuda-toolkit[cublas,cudart]`: `cublas`, `cudart`).
    public var extras: [String]?
    /// The extra the requirement belongs to (`and-cuda` for TensorFlow), when it has one.
    public var extra: String?
    /// The installed version, nil when it is not installed.
    public var installed: String?
    /// Whether the installed version satisfies the specifier; nil when nothing is installed or
    /// the specifier could not be evaluated.
    public var satisfied: Bool?

    public init(name: String, specifier: String?, extras: [String]? = nil, extra: String? = nil,
                installed: String? = nil, satisfied: Bool? = nil)
    {
        self.name = name
        self.specifier = specifier
        self.extras = extras
        self.extra = extra
        self.installed = installed
        self.satisfied = satisfied
    }
}

/// One CUDA library a framework will load, and from where.
public struct FrameworkLibrary: Codable, Equatable, Sendable {
    /// The library family (`cudart`, `cudnn`, `nccl`, …): the element's identity in diffs.
    public var name: String
    /// The version of what will be loaded (the wheel's version, or the file's).
    public var version: String?
    /// `wheel`, `LD_LIBRARY_PATH` or `ld.so.cache`.
    public var source: String
    /// The wheel (`nvidia-cudnn-cu12`) when `source` is `wheel`.
    public var distribution: String?
    /// The file, when known (a wheel without RECORD names none). Not `path`: diffs would match
    /// libraries by it, and it differs with the venv's location.
    public var file: String?

    public init(name: String, version: String?, source: String, distribution: String? = nil, file: String? = nil) {
        self.name = name
        self.version = version
        self.source = source
        self.distribution = distribution
        self.file = file
    }
}

/// A Python ML framework as installed on disk (never imported).
public struct MLFramework: Codable, Equatable, Sendable {
    /// `torch`, `tensorflow`, `jax` or `jaxlib`.
    public var name: String
    /// The version it states (`2.5.1+cu124`: torch/version.py keeps the local tag its dist-info may drop).
    public var version: String?
    /// The distribution that installed it, when its dist-info was found (`tensorflow`, `jax-cuda12-plugin`).
    public var distribution: String?
    /// The site directory it is installed in.
    public var location: String
    /// The CUDA release it was built against (`12.4`); nil for a CPU or ROCm build.
    public var cudaVersion: String?
    /// The cuDNN release it was built against, where the build records one (TensorFlow: `8`).
    public var cudnnVersion: String?
    /// torch: the HIP/ROCm release of a ROCm build.
    public var hipVersion: String?
    /// The source revision it was built from (torch's `git_version`), when recorded.
    public var gitRevision: String?
    /// GPU architectures compiled in (TensorFlow's `cuda_compute_capabilities`).
    public var computeCapabilities: [String]?
    /// The files the facts come from, sorted.
    public var sources: [String]
    /// NVIDIA/CUDA distributions its metadata requires (for TensorFlow, under the `and-cuda`
    /// extra), sorted by name.
    public var pins: [FrameworkPin]?
    /// The CUDA libraries it will load and from where, sorted by library.
    public var libraries: [FrameworkLibrary]?

    public init(name: String, version: String? = nil, distribution: String? = nil, location: String,
                cudaVersion: String? = nil, cudnnVersion: String? = nil, hipVersion: String? = nil,
                gitRevision: String? = nil, computeCapabilities: [String]? = nil, sources: [String] = [],
                pins: [FrameworkPin]? = nil, libraries: [FrameworkLibrary]? = nil)
    {
        self.name = name
        self.version = version
        self.distribution = distribution
        self.location = location
        self.cudaVersion = cudaVersion
        self.cudnnVersion = cudnnVersion
        self.hipVersion = hipVersion
        self.gitRevision = gitRevision
        self.computeCapabilities = computeCapabilities
        self.sources = sources
        self.pins = pins
        self.libraries = libraries
    }
}

/// Something in the CUDA stack that will not behave as the framework's build expects.
public struct CUDAConflict: Codable, Equatable, Sendable {
    /// `library-path-shadows-wheel`, `pin-not-satisfied`, `pin-missing`, `framework-cuda-newer-than-driver`,
    /// `duplicate-wheels`.
    public var kind: String
    /// The framework concerned, when one is.
    public var framework: String?
    /// The library family concerned (`cudnn`), when one is.
    public var library: String?
    /// One sentence, quoting the versions and paths.
    public var message: String

    public init(kind: String, framework: String? = nil, library: String? = nil, message: String) {
        self.kind = kind
        self.framework = framework
        self.library = library
        self.message = message
    }
}
