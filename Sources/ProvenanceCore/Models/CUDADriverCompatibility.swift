/// The cross-section check of the CUDA stack: a framework built with a newer CUDA than the
/// driver supports (`cuda.frameworks[].cudaVersion` against `gpu.nvidia.cudaDriverVersion`).
/// The two facts come from different probes, so the check runs on the manifest (render), not
/// in either probe.
extension CUDAConflict {
    /// `framework-cuda-newer-than-driver` conflicts, one per framework whose CUDA (`12.4`) is newer
    /// than `driverCUDA`, the newest CUDA the driver supports (nvidia-smi's `<cuda_version>`).
    /// A newer major release does not run at all (the CUDA runtime refuses an older driver); a
    /// newer minor release of the same major runs only through CUDA's minor version
    /// compatibility (CUDA 11 and later), where PTX newer than the driver cannot be JIT-compiled.
    /// None when either version is unknown or unparsable.
    public static func frameworkCUDANewerThanDriver(_ frameworks: [MLFramework], driverCUDA: String?) -> [CUDAConflict] {
        guard let driverCUDA, let driver = cudaReleaseNumbers(driverCUDA) else { return [] }
        return frameworks.compactMap { framework in
            guard let built = framework.cudaVersion, let numbers = cudaReleaseNumbers(built),
                  numbers.lexicographicallyPrecedes(driver) == false, numbers != driver else { return nil }
            let name = framework.name + (framework.version.map { " " + $0 } ?? "")
            let consequence = numbers[0] > driver[0]
                ? "it will not run: CUDA \(numbers[0]) needs a driver for CUDA \(numbers[0]).0 or newer"
                : "it runs only through CUDA minor version compatibility (no JIT of newer PTX)"
            return CUDAConflict(kind: "framework-cuda-newer-than-driver", framework: framework.name,
                                message: "\(name) is built with CUDA \(built), newer than the driver's CUDA \(driverCUDA): \(consequence)")
        }
    }
}

/// `[12, 4]` from `12.4` (or `12.4.1`, `11`); nil when it is not a release number.
func cudaReleaseNumbers(_ text: String) -> [Int]? {
    let parts = text.split(separator: ".").prefix(2).map { Int($0) }
    guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
    let numbers = parts.compactMap { $0 }
    return numbers.count == 1 ? numbers + [0] : numbers
}
