public struct CUDASection: SectionModel {
    public static let sectionID = "cuda"

    /// The CUDA toolkit installed: what compiles code.
    public var toolkit: Toolkit?
    /// CUDA libraries the dynamic linker finds: what programs load. Sorted by soname, then in
    /// search order (LD_LIBRARY_PATH first, then ld.so.cache order).
    public var runtimeLibraries: [RuntimeLibrary]?
    /// Versions stated by library headers (cuDNN, NCCL), sorted by path.
    public var libraryHeaders: [LibraryHeader]?
    public var rocm: ROCm?
    /// `CUDA_VISIBLE_DEVICES`, `ROCR_VISIBLE_DEVICES`, `HIP_VISIBLE_DEVICES`, when set.
    public var visibleDevices: [String: VisibleDevices]?
    /// NVIDIA library wheels in the job's Python (`nvidia-cuda-runtime-cu12`), sorted by name.
    public var pythonWheels: [CUDAWheel]?
    /// torch, tensorflow, jax, jaxlib, jax CUDA plugins: the CUDA they were built against,
    /// their pins and the CUDA libraries each will load and from where; sorted by name.
    public var frameworks: [MLFramework]?
    /// Wheel cuDNN shadowed by LD_LIBRARY_PATH, pins not satisfied, duplicate wheels, …
    public var conflicts: [CUDAConflict]?

    public init(toolkit: Toolkit? = nil, runtimeLibraries: [RuntimeLibrary]? = nil, libraryHeaders: [LibraryHeader]? = nil,
                rocm: ROCm? = nil, visibleDevices: [String: VisibleDevices]? = nil, pythonWheels: [CUDAWheel]? = nil,
                frameworks: [MLFramework]? = nil, conflicts: [CUDAConflict]? = nil)
    {
        self.toolkit = toolkit
        self.runtimeLibraries = runtimeLibraries
        self.libraryHeaders = libraryHeaders
        self.rocm = rocm
        self.visibleDevices = visibleDevices
        self.pythonWheels = pythonWheels
        self.frameworks = frameworks
        self.conflicts = conflicts
    }

    public struct Toolkit: Codable, Equatable, Sendable {
        /// `12.8.2` (version.json), `11.8` (cuda.h), `11.8.89` (nvcc): as precise as the source.
        public var version: String
        /// `version.json`, `cuda.h` or `nvcc`.
        public var source: String
        /// The file that answered, or the command line.
        public var sourcePath: String
        /// What `/usr/local/cuda` links to, when it is a link (`/usr/local/cuda-12.2`, `/etc/alternatives/cuda`).
        public var linkTarget: String?
        /// version.json's components and their versions (`cuda_nvcc`: `12.8.93`). Its
        /// `nvidia_driver` is the driver bundled with the installer, not the one loaded.
        public var components: [String: String]?
        /// nvcc's release (`11.8`), when nvcc answered.
        public var nvccRelease: String?
        /// The nvcc that answered, when the command runner knows its path.
        public var nvccPath: String?

        public init(version: String, source: String, sourcePath: String, linkTarget: String? = nil, components: [String: String]? = nil, nvccRelease: String? = nil, nvccPath: String? = nil) {
            self.version = version
            self.source = source
            self.sourcePath = sourcePath
            self.linkTarget = linkTarget
            self.components = components
            self.nvccRelease = nvccRelease
            self.nvccPath = nvccPath
        }
    }

    public struct RuntimeLibrary: Codable, Equatable, Sendable {
        /// The family: `cudart`, `cudnn`, `nccl`, `cublas`, …
        public var library: String
        /// `libcudart.so.12`.
        public var soname: String
        /// The path the dynamic linker opens.
        public var path: String
        /// `ld.so.cache` or `LD_LIBRARY_PATH`.
        public var foundIn: String
        /// The cache's ABI tag (`libc6,x86-64`); nil for LD_LIBRARY_PATH files.
        public var abi: String?
        /// The soname's version: `12` for `libcudart.so.12`.
        public var sonameVersion: String?
        /// The file the links lead to (`libcudart.so.12.2.140`), when `path` is a link.
        public var file: String?
        /// The fullest version known: from `file` (`12.2.140`), else the soname's.
        public var version: String?
        /// True when an earlier entry (LD_LIBRARY_PATH, or the cache with the same ABI) provides
        /// the same soname, so the dynamic linker never loads this one.
        public var shadowed: Bool?

        public init(library: String, soname: String, path: String, foundIn: String, abi: String? = nil, sonameVersion: String? = nil, file: String? = nil, version: String? = nil, shadowed: Bool? = nil) {
            self.library = library
            self.soname = soname
            self.path = path
            self.foundIn = foundIn
            self.abi = abi
            self.sonameVersion = sonameVersion
            self.file = file
            self.version = version
            self.shadowed = shadowed
        }
    }

    public struct LibraryHeader: Codable, Equatable, Sendable {
        /// `cudnn` or `nccl`.
        public var library: String
        public var path: String
        /// `8.2.1`.
        public var version: String

        public init(library: String, path: String, version: String) {
            self.library = library
            self.path = path
            self.version = version
        }
    }

    public struct ROCm: Codable, Equatable, Sendable {
        /// `/opt/rocm/.info/version` (`6.1.0-82`).
        public var version: String
        /// What `/opt/rocm` links to, when it is a link.
        public var linkTarget: String?

        public init(version: String, linkTarget: String? = nil) {
            self.version = version
            self.linkTarget = linkTarget
        }
    }
}

/// A `*_VISIBLE_DEVICES` variable: the value as given and the devices it selects.
public struct VisibleDevices: Codable, Equatable, Sendable {
    /// The value, as given.
    public var value: String
    /// The devices selected, in order: each an index or a UUID (`GPU-…`, `MIG-…`).
    public var devices: [VisibleDevice]
    /// Entries from the first one that is neither an index nor a UUID on: the CUDA runtime
    /// ignores them (`0,1,-1,2` selects 0 and 1). `NoDevFiles` (Slurm) lands here.
    public var ignored: [String]?

    public init(value: String, devices: [VisibleDevice], ignored: [String]? = nil) {
        self.value = value
        self.devices = devices
        self.ignored = ignored
    }
}

public struct VisibleDevice: Codable, Equatable, Sendable {
    public var index: Int?
    public var uuid: String?

    public init(index: Int? = nil, uuid: String? = nil) {
        self.index = index
        self.uuid = uuid
    }
}

extension CUDASection {
    public static var listIdentities: [String: String] {
        ["runtimeLibraries": "path", "libraryHeaders": "path", "pythonWheels": "name", "frameworks": "name"]
    }

    public var summary: String {
        [toolkit.map { "CUDA toolkit " + $0.version }, rocm.map { "ROCm " + $0.version },
         runtimeLibraries.map { "\($0.count) runtime librar\($0.count == 1 ? "y" : "ies")" }].compactMap { $0 }.joined(separator: ", ")
    }
}
