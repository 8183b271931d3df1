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

/// Where the line starting at `start` in `buffer` ends: the index of its newline, or the
/// buffer's end (`memchr`: a byte loop was a fifth of the dpkg probe).
func lineEnd(in buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
    guard let base = buffer.baseAddress, start < buffer.count else { return buffer.count }
    return memchr(base + start, 0x0A, buffer.count - start)
        .map { UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base } ?? buffer.count
}

/// Whether the line `start..<end` of `buffer` begins with `field` (a field name and its colon).
func lineStarts(_ buffer: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, with field: StaticString) -> Bool {
    let count = field.utf8CodeUnitCount
    guard end - start >= count, let base = buffer.baseAddress else { return false }
    return memcmp(base + start, field.utf8Start, count) == 0
}
