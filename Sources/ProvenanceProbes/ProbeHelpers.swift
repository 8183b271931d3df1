import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Small helpers the built-in probes share.

extension RootedFileSystem {
    /// The text of a file, nil when it does not exist; a file that exists but cannot be read is
    /// reported as an issue of the probe (and nil returned).
    func read(_ path: String, reportingTo report: ProbeReport) -> String? {
        do { return try read(path) } catch {
            report.issue(path, error.message)
            return nil
        }
    }
}

/// The value trimmed, nil when it is missing or blank.
func nonEmpty(_ value: String?) -> String? {
    guard let value, !value.trimmed.isEmpty else { return nil }
    return value.trimmed
}

/// Little-endian integers in the binary cache files (`DatasetCache`, `GitStateCache`).
func appendU32(_ out: inout [UInt8], _ value: UInt32) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

func appendU64(_ out: inout [UInt8], _ value: UInt64) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

/// The little-endian integer at `at` (the caller checks the bounds).
func readU32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
}

func readU64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
    bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
}

/// `CLOCK_REALTIME` in nanoseconds: the clock file times are set from (the caches' racy checks).
func realtimeNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}
