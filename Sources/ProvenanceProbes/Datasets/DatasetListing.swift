import Crypto
import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The listing a dataset digest is computed over, and how paths appear in JSON: pure functions.
///
/// The listing is what `sha256sum` prints for the dataset's regular files, sorted by path bytes:
/// one line `<64 hex>  ./<relative path>\n` per file, where a path holding a backslash, a line
/// feed or a carriage return is escaped the way GNU coreutils (9.x) does it (the line starts
/// with `\`; in the name `\` becomes `\\`, LF `\n`, CR `\r`). The dataset digest is the SHA-256
/// of the listing, so
///
///     cd PATH && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum
///
/// recomputes it (for a single-file dataset: `cd DIR && sha256sum ./NAME | sha256sum`).
public enum DatasetListing {
    /// Byte-wise order of paths (unsigned bytes, shorter prefix first): what `LC_ALL=C sort` does.
    public static func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        compare(a, b) < 0
    }

    /// The indices of `paths` in byte order (equal paths in index order). The paths are copied
    /// into one buffer first, so comparing is a `memcmp` with no reference counting per
    /// comparison; with `threads` > 1, parts are sorted on that many threads, then merged.
    public static func sortedOrder(_ paths: [[UInt8]], threads: Int = 1) -> [Int] {
        var arena: [UInt8] = []
        arena.reserveCapacity(paths.reduce(0) { $0 + $1.count })
        var bounds: [(start: Int, count: Int)] = []
        bounds.reserveCapacity(paths.count)
        for path in paths {
            bounds.append((arena.count, path.count))
            arena.append(contentsOf: path)
        }
        var order = Array(paths.indices)
        guard order.count > 1 else { return order }
        let parts = max(1, min(threads, order.count / 10_000))
        arena.withUnsafeBufferPointer { arena in
            bounds.withUnsafeBufferPointer { bounds in
                let paths = PathOrder(arena: arena.baseAddress, bounds: bounds.baseAddress!)
                // Sorted runs [cuts[i], cuts[i + 1]), then merged pairwise.
                var cuts = (0...parts).map { $0 * order.count / parts }
                order.withUnsafeMutableBufferPointer { order in
                    // Each thread sorts its own part of the buffer.
                    let shared = UncheckedSendable(value: (order: order, cuts: cuts))
                    runParallel(parts) { part in
                        let (order, cuts) = shared.value
                        var run = UnsafeMutableBufferPointer(rebasing: order[cuts[part]..<cuts[part + 1]])
                        run.sort { paths.precedes($0, $1) }
                    }
                }
                var merged = [Int](repeating: 0, count: order.count)
                while cuts.count > 2 {
                    var next = [0]
                    for pair in stride(from: 0, to: cuts.count - 1, by: 2) {
                        let (low, middle) = (cuts[pair], cuts[pair + 1])
                        let high = pair + 2 < cuts.count ? cuts[pair + 2] : middle
                        var (i, j, k) = (low, middle, low)
                        while i < middle || j < high {
                            if j >= high || (i < middle && paths.precedes(order[i], order[j])) {
                                merged[k] = order[i]
                                i += 1
                            } else {
                                merged[k] = order[j]
                                j += 1
                            }
                            k += 1
                        }
                        next.append(high)
                    }
                    swap(&order, &merged)
                    cuts = next
                }
            }
        }
        return order
    }

    /// `memcmp` order of two byte strings: negative, zero or positive.
    public static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let common = min(a.count, b.count)
        let result = a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in common == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, common) }
        }
        if result != 0 { return Int(result) }
        return a.count - b.count
    }

    /// Appends one `sha256sum` line for `prefix + path`, escaped as coreutils does.
    public static func appendLine(to out: inout [UInt8], digest: FileDigest, prefix: [UInt8], path: [UInt8]) {
        let escape = needsEscaping(prefix) || needsEscaping(path)
        if escape { out.append(UInt8(ascii: "\\")) }
        digest.appendHex(to: &out)
        out.append(UInt8(ascii: " "))
        out.append(UInt8(ascii: " "))
        if escape {
            appendEscaped(prefix, to: &out)
            appendEscaped(path, to: &out)
        } else {
            out.append(contentsOf: prefix)
            out.append(contentsOf: path)
        }
        out.append(0x0A)
    }

    /// Whether a name holds a byte `sha256sum` escapes: backslash, line feed, carriage return.
    @inline(__always)
    static func needsEscaping(_ bytes: [UInt8]) -> Bool {
        for byte in bytes where byte == 0x5C || byte == 0x0A || byte == 0x0D { return true }
        return false
    }

    private static func appendEscaped(_ bytes: [UInt8], to out: inout [UInt8]) {
        for byte in bytes {
            switch byte {
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            default: out.append(byte)
            }
        }
    }

    /// The listing of `files` (already sorted) with every path behind `prefix`: `./` for the
    /// listing the digest covers and the sidecar, the dataset's absolute path plus `/` for `--sums`.
    /// With `threads` > 1, parts are formatted on that many threads, then joined in order.
    public static func listing(_ files: [DatasetFile], prefix: [UInt8] = Array("./".utf8), threads: Int = 1) -> [UInt8] {
        let parts = max(1, min(threads, files.count / 10_000))
        if parts == 1 { return listing(files[...], prefix: prefix) }
        final class Parts: @unchecked Sendable { var bytes: [[UInt8]] = [] }
        let formatted = Parts()
        formatted.bytes = Array(repeating: [], count: parts)
        runParallel(parts) { part in
            let range = (part * files.count / parts)..<((part + 1) * files.count / parts)
            formatted.bytes[part] = listing(files[range], prefix: prefix)
        }
        var out: [UInt8] = []
        out.reserveCapacity(formatted.bytes.reduce(0) { $0 + $1.count })
        for part in formatted.bytes { out += part }
        return out
    }

    private static func listing(_ files: ArraySlice<DatasetFile>, prefix: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(files.count * (70 + prefix.count) + files.reduce(0) { $0 + $1.path.count })
        for file in files { appendLine(to: &out, digest: file.digest, prefix: prefix, path: file.path) }
        return out
    }

    /// How a path appears in JSON: the text, and, when the bytes are not valid UTF-8, the exact
    /// bytes in base64 (`pathBytes`) beside a lossy text (invalid sequences become U+FFFD).
    public static func jsonPath(_ bytes: [UInt8]) -> (text: String, base64: String?) {
        let text = String(decoding: bytes, as: UTF8.self)
        if isValidUTF8(bytes) { return (text, nil) }
        return (text, Base64.encode(bytes))
    }

    public static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}

/// Hands a value to other threads when the code guarantees they do not race on it.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    var value: Value
}

/// Byte order of paths kept in one buffer (`sortedOrder`), equal paths by index.
private struct PathOrder: @unchecked Sendable {
    let arena: UnsafePointer<UInt8>?
    let bounds: UnsafePointer<(start: Int, count: Int)>

    @inline(__always)
    func precedes(_ a: Int, _ b: Int) -> Bool {
        let x = bounds[a]
        let y = bounds[b]
        let common = min(x.count, y.count)
        let result = common == 0 ? 0 : memcmp(arena! + x.start, arena! + y.start, common)
        return result != 0 ? result < 0 : (x.count != y.count ? x.count < y.count : a < b)
    }
}
