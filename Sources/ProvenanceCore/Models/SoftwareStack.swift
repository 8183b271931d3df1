// The software.stack section: how HPC software reached the job — environment modules, EasyBuild,
// Spack environments, conda. Pure data; filled by `SoftwareStackProbe`.

/// Modules loaded, EasyBuild packages, the Spack environment and the conda environment.
public struct SoftwareStackSection: Codable, Equatable, Sendable {
    public var modules: ModuleEnvironment?
    /// `EBROOT<NAME>` / `EBVERSION<NAME>` pairs of loaded EasyBuild modules, sorted by name.
    public var easybuild: [EasyBuildPackage]?
    public var spack: SpackEnvironment?
    public var conda: CondaEnvironment?

    public init() {}
}

/// Lmod or Environment Modules, as the process environment shows them.
public struct ModuleEnvironment: Codable, Equatable, Sendable {
    /// `lmod` (`LMOD_VERSION` or `LMOD_CMD` set), `environment-modules` (`MODULES_CMD` or
    /// `MODULESHOME` without Lmod), or nil when only the variables below say modules are used.
    public var tool: String?
    /// `LMOD_VERSION` (Lmod) or `MODULES_VERSION`… when set.
    public var version: String?
    /// `LOADEDMODULES`, in load order, each with the file `_LMFILES_` gives for it.
    public var loaded: [LoadedModule]
    /// `MODULEPATH`, in order.
    public var modulePath: [String]?
    /// Environment Modules' `__MODULES_LMINIT`: the commands that restore the initial state.
    public var initialState: [String]?

    public init(tool: String? = nil, version: String? = nil, loaded: [LoadedModule] = [], modulePath: [String]? = nil,
                initialState: [String]? = nil)
    {
        self.tool = tool
        self.version = version
        self.loaded = loaded
        self.modulePath = modulePath
        self.initialState = initialState
    }
}

/// One loaded module: `gcc/6.1` → name `gcc`, version `6.1`.
public struct LoadedModule: Codable, Equatable, Sendable {
    /// The full name as loaded (`OpenMPI/4.1.5-GCC-12.3.0`).
    public var fullName: String
    public var name: String
    public var version: String?
    /// Its modulefile (`_LMFILES_`), when known.
    public var file: String?

    public init(fullName: String, name: String, version: String? = nil, file: String? = nil) {
        self.fullName = fullName
        self.name = name
        self.version = version
        self.file = file
    }
}

/// One EasyBuild-installed package of the environment.
public struct EasyBuildPackage: Codable, Equatable, Sendable {
    /// The upper-cased name EasyBuild gives the variables (`OPENMPI`, `GCC`).
    public var name: String
    /// `EBVERSION<NAME>` (`4.1.5`).
    public var version: String?
    /// `EBROOT<NAME>`: the installation prefix.
    public var root: String?

    public init(name: String, version: String? = nil, root: String? = nil) {
        self.name = name
        self.version = version
        self.root = root
    }
}

/// The active Spack environment (`SPACK_ENV`) and its lock file.
public struct SpackEnvironment: Codable, Equatable, Sendable {
    /// `SPACK_ENV`: the environment's directory.
    public var path: String
    /// SHA-256 of `spack.lock` (hex): names every concrete spec at once.
    public var lockSHA256: String?
    /// The lock file's `_meta.lockfile-version`.
    public var lockfileVersion: Int?
    /// The Spack that concretised it (`spack.version`, `spack.commit`).
    public var spackVersion: String?
    public var spackCommit: String?
    /// The root specs as written in the lock (`cray-mpich@8.1.25%gcc@12.2.0`), in lock order.
    public var roots: [String]?
    /// How many concrete specs the lock holds.
    public var concreteSpecCount: Int?

    public init(path: String) { self.path = path }
}

/// The active conda environment.
public struct CondaEnvironment: Codable, Equatable, Sendable {
    /// `CONDA_DEFAULT_ENV` (`base`, `myenv`).
    public var name: String?
    /// `CONDA_PREFIX`.
    public var prefix: String?
    /// `CONDA_SHLVL`: how many environments are stacked.
    public var shellLevel: Int?

    public init(name: String? = nil, prefix: String? = nil, shellLevel: Int? = nil) {
        self.name = name
        self.prefix = prefix
        self.shellLevel = shellLevel
    }
}
