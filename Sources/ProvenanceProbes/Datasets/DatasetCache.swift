import Crypto
import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The stat cache of one dataset: for each regular file, the device, inode, size, modification
/// and status-change times (ns) it had when hashed, and its digest. A file whose stat is the same
/// now is not read again; any difference makes the entry useless.
///
/// One file per dataset, named after the SHA-256 of the dataset's resolved path
/// (`dataset-<first 32 hex>.cache`), in `$XDG_CACHE_HOME/provenance`, else
/// `$HOME/.cache/provenance`. Binary, little-endian:
///
///     "provenance-dataset-cache 1\n"
///     u32 length, bytes          the dataset's resolved path
///     u64 count
///     count × { u64 device, u64 inode, i64 size, i64 mtime ns, i64 ctime ns,
///               32 bytes SHA-256, u32 path length, path bytes }   sorted by path bytes
///     32 bytes                   SHA-256 of everything before
///
/// It is written atomically (temporary file, fsync, rename). A file that is truncated, fails its
/// checksum, is of another version or of another dataset is ignored and rewritten.
public enum DatasetCache {
    static let magic = Array("provenance-dataset-cache 1\n".utf8)
    /// Bytes of an entry before its path (a computed constant: a stored static is checked for
    /// lazy initialisation on every use).
    static var entryHeader: Int { 8 * 5 + 32 + 4 }

    /// `$XDG_CACHE_HOME/provenance` (when absolute), else `$HOME/.cache/provenance`; nil when neither is set.
    public static func defaultDirectory(environment: [String: String]) -> String? {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/provenance" }
        if let home = environment["HOME"], home.hasPrefix("/") {
            return (home == "/" ? "" : home) + "/.cache/provenance"
        }
        return nil
    }

    /// The cache file name of a dataset with this resolved path.
    public static func fileName(realPath: String) -> String {
        let digest = FileDigest(bytes: SHA256.hash(data: Array(realPath.utf8)))
        return "dataset-" + digest.hex.prefix(32) + ".cache"
    }

    /// A decoded cache: entries sorted by path, read in place from the file's bytes.
    public struct Table: Sendable {
        let bytes: [UInt8]
        let offsets: [Int]

        public var count: Int { offsets.count }

        public func stat(_ index: Int) -> FileStat {
            let at = offsets[index]
            return FileStat(device: readU64(bytes, at), inode: readU64(bytes, at + 8),
                            size: Int64(bitPattern: readU64(bytes, at + 16)),
                            mtimeNanoseconds: Int64(bitPattern: readU64(bytes, at + 24)),
                            ctimeNanoseconds: Int64(bitPattern: readU64(bytes, at + 32)))
        }

        public func digest(_ index: Int) -> FileDigest {
            bytes.withUnsafeBytes { FileDigest(raw: UnsafeRawBufferPointer(rebasing: $0[(offsets[index] + 40)...])) }
        }

        public func path(_ index: Int) -> ArraySlice<UInt8> {
            let at = offsets[index]
            let length = Int(readU32(bytes, at + 72))
            return bytes[(at + DatasetCache.entryHeader)..<(at + DatasetCache.entryHeader + length)]
        }

        /// Whether entry `a`'s path sorts strictly before entry `b`'s.
        func pathPrecedes(_ a: Int, _ b: Int) -> Bool {
            let x = path(a)
            let y = path(b)
            let common = min(x.count, y.count)
            let result = bytes.withUnsafeBufferPointer { buffer in
                common == 0 ? 0 : memcmp(buffer.baseAddress! + x.startIndex, buffer.baseAddress! + y.startIndex, common)
            }
            return result != 0 ? result < 0 : x.count < y.count
        }

        /// `memcmp` order of entry `index`'s path against `other`.
        func comparePath(_ index: Int, _ other: [UInt8]) -> Int {
            let at = offsets[index] + DatasetCache.entryHeader
            let length = Int(readU32(bytes, offsets[index] + 72))
            let common = min(length, other.count)
            let result = bytes.withUnsafeBufferPointer { a in
                other.withUnsafeBufferPointer { b in
                    common == 0 ? 0 : memcmp(a.baseAddress! + at, b.baseAddress!, common)
                }
            }
            return result != 0 ? Int(result) : length - other.count
        }
    }

    public struct Entry: Sendable {
        public var path: [UInt8]
        public var stat: FileStat
        public var digest: FileDigest
        public init(path: [UInt8], stat: FileStat, digest: FileDigest) {
            self.path = path
            self.stat = stat
            self.digest = digest
        }
    }

    /// The bytes of a cache file holding `entries` (sorted by path bytes) of the dataset at `realPath`.
    public static func encode(realPath: String, entries: [Entry]) -> [UInt8] {
        var out = magic
        let root = Array(realPath.utf8)
        out.reserveCapacity(out.count + root.count + 48 + entries.reduce(0) { $0 + entryHeader + $1.path.count })
        appendField(&out, root)
        appendU64(&out, UInt64(entries.count))
        for entry in entries {
            appendU64(&out, entry.stat.device)
            appendU64(&out, entry.stat.inode)
            appendU64(&out, UInt64(bitPattern: entry.stat.size))
            appendU64(&out, UInt64(bitPattern: entry.stat.mtimeNanoseconds))
            appendU64(&out, UInt64(bitPattern: entry.stat.ctimeNanoseconds))
            entry.digest.appendBytes(to: &out)
            appendU32(&out, UInt32(entry.path.count))
            out += entry.path
        }
        seal(&out)
        return out
    }

    /// Reads a cache file's bytes; the reason it cannot be used otherwise.
    public static func decode(_ bytes: [UInt8], realPath: String) -> Result<Table, CacheProblem> {
        guard bytes.count >= magic.count + 4 + 8 + 32 else { return .failure(CacheProblem("truncated")) }
        guard bytes.starts(with: magic) else {
            let sameFamily = bytes.starts(with: Array("provenance-dataset-cache ".utf8))
            return .failure(CacheProblem(sameFamily ? "another cache version" : "not a cache file"))
        }
        let body = bytes.count - 32
        let checksum = Array(SHA256.hash(data: bytes[0..<body]))
        guard checksum.elementsEqual(bytes[body...]) else { return .failure(CacheProblem("checksum mismatch")) }
        var at = magic.count
        let rootLength = Int(readU32(bytes, at))
        at += 4
        guard at + rootLength + 8 <= body else { return .failure(CacheProblem("truncated")) }
        guard bytes[at..<(at + rootLength)].elementsEqual(realPath.utf8) else {
            return .failure(CacheProblem("of another dataset"))
        }
        at += rootLength
        let count = readU64(bytes, at)
        at += 8
        guard count <= UInt64(body / entryHeader) else { return .failure(CacheProblem("truncated")) }
        var offsets: [Int] = []
        offsets.reserveCapacity(Int(count))
        for _ in 0..<Int(count) {
            guard at + entryHeader <= body else { return .failure(CacheProblem("truncated")) }
            let length = Int(readU32(bytes, at + 72))
            guard at + entryHeader + length <= body else { return .failure(CacheProblem("truncated")) }
            offsets.append(at)
            at += entryHeader + length
        }
        guard at == body else { return .failure(CacheProblem("trailing bytes")) }
        let table = Table(bytes: bytes, offsets: offsets)
        for index in 1..<max(1, offsets.count) where !table.pathPrecedes(index - 1, index) {
            return .failure(CacheProblem("entries out of order"))
        }
        return .success(table)
    }

    /// For each of `paths` (sorted by bytes), the index of the table entry with the same path.
    public static func match(_ paths: [[UInt8]], in table: Table) -> [Int?] {
        var result = [Int?](repeating: nil, count: paths.count)
        var cursor = 0
        for (index, path) in paths.enumerated() {
            while cursor < table.count && table.comparePath(cursor, path) < 0 { cursor += 1 }
            if cursor < table.count && table.comparePath(cursor, path) == 0 { result[index] = cursor }
        }
        return result
    }

    /// The whole content of a file (nil when it does not exist or cannot be read).
    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var total = 0
        while total < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            total += count
        }
        if total < bytes.count { bytes.removeLast(bytes.count - total) }
        return bytes
    }
}

/// Why a cache file was not used.
public struct CacheProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
