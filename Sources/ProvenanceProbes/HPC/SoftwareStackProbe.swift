import Crypto
import ProvenanceCore
import ProvenanceProbeKit

/// How HPC software reached the job: environment modules (Lmod or Environment Modules), EasyBuild
/// packages, the Spack environment and the conda environment — from the captured process's
/// environment, plus the Spack environment's lock file.
///
/// Reads the variables `LOADEDMODULES`, `_LMFILES_`, `MODULEPATH`, `__MODULES_LMINIT`,
/// `LMOD_VERSION`, `LMOD_CMD`, `MODULES_CMD`, `MODULESHOME`, `EBROOT*`, `EBVERSION*`, `SPACK_ENV`,
/// `CONDA_DEFAULT_ENV`, `CONDA_PREFIX`, `CONDA_SHLVL`, and the file `$SPACK_ENV/spack.lock`.
/// Runs nothing (`module list` would start Lua or Tcl). `absent` when none of these is set.
public struct SoftwareStackProbe: Probe {
    public typealias Output = SoftwareStackSection

    public init() {}

    public var descriptor: ProbeDescriptor {
        ProbeDescriptor(
            id: "software.stack", version: "1.0.0",
            summary: "Loaded environment modules (Lmod, Environment Modules), EasyBuild packages, Spack environment "
                + "and lock digest, conda environment",
            reads: ["environment: LOADEDMODULES, _LMFILES_, MODULEPATH, __MODULES_LMINIT, LMOD_VERSION, LMOD_CMD, "
                    + "MODULES_CMD, MODULESHOME, EBROOT*, EBVERSION*, SPACK_ENV, CONDA_DEFAULT_ENV, CONDA_PREFIX, CONDA_SHLVL",
                    "$SPACK_ENV/spack.lock"])
    }

    public func collect(_ context: ProbeContext, _ report: ProbeReport) throws -> Output {
        let env = context.environment
        var output = Output()
        output.modules = parseModuleEnvironment(env)
        let easybuild = parseEasyBuildEnvironment(env)
        output.easybuild = easybuild.isEmpty ? nil : easybuild

        if let path = nonEmpty(env["SPACK_ENV"]) {
            var spack = SpackEnvironment(path: path)
            let lockPath = path.hasSuffix("/") ? path + "spack.lock" : path + "/spack.lock"
            do {
                if let bytes = try context.fs.readBytes(lockPath) {
                    spack.lockSHA256 = hexString(SHA256.hash(data: bytes))
                    do {
                        try describeSpackLock(bytes, into: &spack)
                    } catch {
                        report.issue(lockPath, "not a JSON lock file: \(error)")
                    }
                } else {
                    report.issue(lockPath, "does not exist (environment not concretised)")
                }
            } catch {
                report.issue(lockPath, error.message)
            }
            output.spack = spack
        }
        if env["CONDA_PREFIX"] != nil || env["CONDA_DEFAULT_ENV"] != nil {
            output.conda = CondaEnvironment(name: nonEmpty(env["CONDA_DEFAULT_ENV"]), prefix: nonEmpty(env["CONDA_PREFIX"]),
                                            shellLevel: env["CONDA_SHLVL"].flatMap { Int($0) })
        }
        if output == Output() {
            throw ProbeAbsent(source: "environment", reason: "no modules, EasyBuild, Spack or conda variables")
        }
        return output
    }
}

/// The module system's state from environment variables; nil when no module variable is set.
public func parseModuleEnvironment(_ env: [String: String]) -> ModuleEnvironment? {
    let loadedNames = (env["LOADEDMODULES"] ?? "").split(separator: ":").map(String.init)
    let files = (env["_LMFILES_"] ?? "").split(separator: ":").map(String.init)
    let modulePath = (env["MODULEPATH"] ?? "").split(separator: ":").map(String.init)
    let lminit = (env["__MODULES_LMINIT"] ?? "").split(separator: ":").map(String.init)
    var tool: String?
    var version: String?
    if env["LMOD_VERSION"] != nil || env["LMOD_CMD"] != nil {
        tool = "lmod"
        version = nonEmpty(env["LMOD_VERSION"])
    } else if env["MODULES_CMD"] != nil || env["MODULESHOME"] != nil || !lminit.isEmpty {
        tool = "environment-modules"
    }
    guard tool != nil || !loadedNames.isEmpty || !modulePath.isEmpty else { return nil }
    var loaded: [LoadedModule] = []
    for (index, fullName) in loadedNames.enumerated() {
        var module = LoadedModule(fullName: fullName, name: fullName)
        if let slash = fullName.lastIndex(of: "/") {
            module.name = String(fullName[..<slash])
            module.version = String(fullName[fullName.index(after: slash)...])
        }
        // _LMFILES_ lists the modulefiles in the same order when both are complete.
        if files.count == loadedNames.count { module.file = files[index] }
        loaded.append(module)
    }
    return ModuleEnvironment(tool: tool, version: version, loaded: loaded, modulePath: modulePath.isEmpty ? nil : modulePath,
                             initialState: lminit.isEmpty ? nil : lminit)
}

/// `EBROOT<NAME>` and `EBVERSION<NAME>` pairs, sorted by name.
public func parseEasyBuildEnvironment(_ env: [String: String]) -> [EasyBuildPackage] {
    var packages: [String: EasyBuildPackage] = [:]
    for (key, value) in env {
        if key.hasPrefix("EBROOT"), key.count > 6 {
            let name = String(key.dropFirst(6))
            packages[name, default: EasyBuildPackage(name: name)].root = value
        } else if key.hasPrefix("EBVERSION"), key.count > 9 {
            let name = String(key.dropFirst(9))
            packages[name, default: EasyBuildPackage(name: name)].version = value
        }
    }
    return packages.values.sorted { $0.name < $1.name }
}

/// Fills the lock's format version, the Spack that wrote it, its roots and the number of
/// concrete specs (`spack.lock`, lockfile versions 3–5: `_meta`, `spack`, `roots`, `concrete_specs`).
func describeSpackLock(_ bytes: [UInt8], into spack: inout SpackEnvironment) throws {
    let json = try JSONParser.parse(bytes)
    if case .int(let version)? = json["_meta"]?["lockfile-version"] { spack.lockfileVersion = Int(version) }
    spack.spackVersion = json["spack"]?["version"]?.stringValue
    spack.spackCommit = json["spack"]?["commit"]?.stringValue
    spack.roots = json["roots"]?.arrayValue?.compactMap { $0["spec"]?.stringValue }
    spack.concreteSpecCount = json["concrete_specs"]?.objectValue?.count
}
