import Crypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// What provenance's binary cache files share (`SectionCache`, the git state cache, the dataset
// digest cache): little-endian integers, a reader that never reads past its end, and writing a
// file whole (a temporary file renamed over it) in a directory made on the way.

/// Little-endian integers in the binary cache files.
public func appendU32(_ out: inout [UInt8], _ value: UInt32) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

public func appendU64(_ out: inout [UInt8], _ value: UInt64) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

/// A field: its length (u32), then its bytes.
public func appendField(_ out: inout [UInt8], _ value: some Collection<UInt8>) {
    appendU32(&out, UInt32(value.count))
    out.append(contentsOf: value)
}

/// A `FileStat` as the cache files keep it: device, inode, size, modification and change times
/// (u64 each), type (u32).
public func appendFileStat(_ out: inout [UInt8], _ stat: FileStat) {
    appendU64(&out, stat.device)
    appendU64(&out, stat.inode)
    appendU64(&out, UInt64(bitPattern: stat.size))
    appendU64(&out, UInt64(bitPattern: stat.mtimeNanoseconds))
    appendU64(&out, UInt64(bitPattern: stat.ctimeNanoseconds))
    appendU32(&out, stat.type)
}

/// The little-endian integer at `at` (the caller checks the bounds).
public func readU32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
}

public func readU64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
    bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
}

/// `CLOCK_REALTIME` in nanoseconds: the clock file times are set from (the caches' racy checks).
public func realtimeNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// Reads a cache file's fields from `at` up to `end`; each read is nil past the end.
public struct CacheFileReader {
    public let bytes: [UInt8]
    public var at: Int
    public let end: Int

    public init(bytes: [UInt8], at: Int, end: Int) {
        self.bytes = bytes
        self.at = at
        self.end = end
    }

    /// The bytes between `magic` and the SHA-256 of everything before it at the end, or nil when
    /// `bytes` are not a whole file of that kind (foreign, truncated or damaged).
    public static func checked(_ bytes: [UInt8], magic: [UInt8]) -> CacheFileReader? {
        guard bytes.count >= magic.count + 32, bytes.starts(with: magic),
              Array(SHA256.hash(data: bytes[..<(bytes.count - 32)])) == Array(bytes[(bytes.count - 32)...])
        else { return nil }
        return CacheFileReader(bytes: bytes, at: magic.count, end: bytes.count - 32)
    }

    public mutating func u8() -> UInt8? {
        guard at < end else { return nil }
        defer { at += 1 }
        return bytes[at]
    }

    public mutating func u32() -> UInt32? {
        guard at + 4 <= end else { return nil }
        defer { at += 4 }
        return readU32(bytes, at)
    }

    public mutating func u64() -> UInt64? {
        guard at + 8 <= end else { return nil }
        defer { at += 8 }
        return readU64(bytes, at)
    }

    /// A `FileStat` written by `appendFileStat`.
    public mutating func fileStat() -> FileStat? {
        guard let device = u64(), let inode = u64(), let size = u64(), let mtime = u64(), let ctime = u64(),
              let type = u32()
        else { return nil }
        return FileStat(device: device, inode: inode, size: Int64(bitPattern: size), mtimeNanoseconds: Int64(bitPattern: mtime),
                        ctimeNanoseconds: Int64(bitPattern: ctime), type: type)
    }

    /// Passes over a field without copying it; false when it does not fit.
    public mutating func skipField() -> Bool {
        guard let count = u32().map(Int.init), at + count <= end else { return false }
        at += count
        return true
    }

    public mutating func field() -> [UInt8]? {
        guard let count = u32().map(Int.init), at + count <= end else { return nil }
        defer { at += count }
        return Array(bytes[at..<(at + count)])
    }

    /// A field as text, decoded from the file's bytes (no array made for it first: one per
    /// witness, 2,450 in this checkout's git cache).
    public mutating func text() -> String? {
        guard let count = u32().map(Int.init), at + count <= end else { return nil }
        defer { at += count }
        return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[at..<(at + count)]), as: UTF8.self) }
    }
}

/// Ends a cache file's bytes (its magic, then its fields) with the SHA-256 of all of them (what
/// `CacheFileReader.checked` checks).
public func seal(_ bytes: inout [UInt8]) {
    bytes += SHA256.hash(data: bytes)
}

/// Writes a cache file whole: a temporary file (mode 0600) renamed over `path`, its directory
/// (and that directory's parent, `~/.cache`) made first when missing. Not synced: a lost or
/// damaged cache is only work done again. Returns whether the file is now there, and whether it
/// replaced one.
@discardableResult
public func writeCacheFile(_ bytes: [UInt8], to path: String) -> (written: Bool, replaced: Bool) {
    let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
    if !directory.isEmpty, mkdir(directory, 0o700) != 0 && errno == ENOENT {
        let parent = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
        if !parent.isEmpty { mkdir(parent, 0o700) }
        mkdir(directory, 0o700)
    }
    let temporary = path + ".tmp-\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
    guard fd >= 0 else { return (false, false) }
    let written = bytes.withUnsafeBytes { buffer -> Bool in
        var offset = 0
        while offset < buffer.count {
            let count = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            offset += count
        }
        return true
    }
    close(fd)
    let replacing = access(path, F_OK) == 0
    guard written, rename(temporary, path) == 0 else {
        unlink(temporary)
        return (false, false)
    }
    return (true, replacing)
}

/// Removes the least recently written files of `directory` named `PREFIX*.cache` beyond `keep`.
public func pruneCacheFiles(in directory: String, prefix: String, keep: Int) {
    guard let names = try? RootedFileSystem().list(directory) else { return }
    var caches: [(path: String, time: Int64)] = []
    for name in names where name.hasPrefix(prefix) && name.hasSuffix(".cache") {
        let path = directory + "/" + name
        if let info = FileStat(path: path, following: false) { caches.append((path, info.mtimeNanoseconds)) }
    }
    guard caches.count > keep else { return }
    for old in caches.sorted(by: { $0.time < $1.time }).prefix(caches.count - keep) { unlink(old.path) }
}
