/// One entry of the dynamic linker's cache (`/etc/ld.so.cache`): a soname and the file the
/// dynamic linker loads for it, as `ldconfig -p` lists them.
public struct LdSoCacheEntry: Equatable, Sendable {
    /// `libcudart.so.12`.
    public var soname: String
    /// `/usr/local/cuda/lib64/libcudart.so.12`.
    public var path: String
    /// glibc's flags: the kind of library in the low byte (3 = ELF for libc6) and the ABI it needs
    /// in the next byte (0x03 = x86-64, 0x0a = AArch64, 0x05 = 64-bit POWER, …).
    public var flags: Int32
    /// The minimum kernel (`OS ABI`), 0 when none.
    public var osVersion: UInt32
    /// Hardware capabilities; bit 62 marks an entry of a `glibc-hwcaps` subdirectory.
    public var hwcap: UInt64

    public init(soname: String, path: String, flags: Int32, osVersion: UInt32 = 0, hwcap: UInt64 = 0) {
        self.soname = soname
        self.path = path
        self.flags = flags
        self.osVersion = osVersion
        self.hwcap = hwcap
    }

    /// The flags as `ldconfig -p` prints them: `libc6,x86-64`.
    public var abi: String { ldSoCacheABI(flags) }
}

/// A cache file that is not one, or is cut short: what was wrong and where.
public struct LdSoCacheError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Parses the dynamic linker's cache, `/etc/ld.so.cache`, in glibc's formats (glibc
/// `elf/cache.c`, `sysdeps/generic/dl-cache.h`), returning the entries in file order (the order
/// the dynamic linker searches: for one soname it takes the first entry whose ABI matches).
///
/// Since glibc 2.32 `ldconfig` writes only the new format; older versions write the old format
/// with the new one after it, and the new part is read when present. Integers are in the byte
/// order the new header's flags name (2 = little-endian, 3 = big-endian; 0, written by glibc
/// before 2.33, means the writer's own and is read as little-endian).
///
/// ```
/// old part (optional)  "ld.so-1.7.0" (11 bytes), 1 byte padding, uint32 nlibs,
///                      nlibs × {int32 flags; uint32 key; uint32 value}  (12 bytes each);
///                      the new part starts at the next multiple of 8
/// new header (48 bytes)
///   0  "glibc-ld.so.cache"  magic, 17 bytes
///  17  "1.1"                version, 3 bytes
///  20  uint32 nlibs
///  24  uint32 len_strings   size of the string table
///  28  uint8  flags         byte order in the low 2 bits
///  29  3 bytes unused
///  32  uint32 extension_offset   (from the start of the file: generator, glibc-hwcaps names)
///  36  3 × uint32 unused
/// 48  nlibs entries (24 bytes each)
///   0  int32  flags         library kind (low byte) and required ABI (bits 8-15)
///   4  uint32 key           offset of the soname
///   8  uint32 value         offset of the path
///  12  uint32 osversion
///  16  uint64 hwcap
///     then the NUL-terminated strings; key and value count from the start of the new header
///     (from the end of the old entries in an old-format-only file)
/// ```
public func parseLdSoCache(_ bytes: [UInt8]) throws(LdSoCacheError) -> [LdSoCacheEntry] {
    let oldMagic = Array("ld.so-1.7.0".utf8)
    let newMagic = Array("glibc-ld.so.cache1.1".utf8)
    var reader = ByteReader(bytes: bytes, bigEndian: false)

    var newStart = 0
    if bytes.starts(with: oldMagic) {
        guard let count = reader.uint32(at: 12) else { throw LdSoCacheError("old-format header cut short") }
        let entriesEnd = 16 + Int(count) * 12
        guard entriesEnd <= bytes.count else {
            throw LdSoCacheError("old format: \(count) entries do not fit in \(bytes.count) bytes")
        }
        newStart = (entriesEnd + 7) & ~7
        if !(newStart + 48 <= bytes.count && bytes[newStart...].starts(with: newMagic)) {
            // Old format only: strings count from the end of the entries.
            var entries: [LdSoCacheEntry] = []
            for index in 0..<Int(count) {
                let offset = 16 + index * 12
                guard let flags = reader.uint32(at: offset), let key = reader.uint32(at: offset + 4),
                      let value = reader.uint32(at: offset + 8),
                      let soname = reader.string(at: entriesEnd + Int(key)),
                      let path = reader.string(at: entriesEnd + Int(value))
                else { throw LdSoCacheError("old format: entry \(index) points outside the file") }
                entries.append(LdSoCacheEntry(soname: soname, path: path, flags: Int32(bitPattern: flags)))
            }
            return entries
        }
    } else if !bytes.starts(with: newMagic) {
        let head = String(decoding: bytes.prefix(20).map { $0 >= 0x20 && $0 < 0x7f ? $0 : UInt8(ascii: ".") },
                          as: UTF8.self)
        throw LdSoCacheError("not an ld.so cache (starts with '\(head)')")
    }

    guard newStart + 48 <= bytes.count else { throw LdSoCacheError("header cut short") }
    switch bytes[newStart + 28] & 3 {
    case 3: reader.bigEndian = true
    case 1: throw LdSoCacheError("header says its byte order is invalid")
    default: break
    }
    guard let count = reader.uint32(at: newStart + 20) else { throw LdSoCacheError("header cut short") }
    guard newStart + 48 + Int(count) * 24 <= bytes.count else {
        throw LdSoCacheError("\(count) entries do not fit in \(bytes.count) bytes")
    }
    var entries: [LdSoCacheEntry] = []
    entries.reserveCapacity(Int(count))
    for index in 0..<Int(count) {
        let offset = newStart + 48 + index * 24
        guard let flags = reader.uint32(at: offset), let key = reader.uint32(at: offset + 4),
              let value = reader.uint32(at: offset + 8), let osVersion = reader.uint32(at: offset + 12),
              let hwcap = reader.uint64(at: offset + 16),
              let soname = reader.string(at: newStart + Int(key)), let path = reader.string(at: newStart + Int(value))
        else { throw LdSoCacheError("entry \(index) points outside the file") }
        entries.append(LdSoCacheEntry(soname: soname, path: path, flags: Int32(bitPattern: flags),
                                      osVersion: osVersion, hwcap: hwcap))
    }
    return entries
}

/// glibc's flags as `ldconfig -p` prints them (`libc6,x86-64`, `libc6,AArch64`, `libc6`).
public func ldSoCacheABI(_ flags: Int32) -> String {
    let kinds = [0: "libc4", 1: "ELF", 2: "libc5", 3: "libc6"]
    var text = kinds[Int(flags & 0xff)] ?? "unknown"
    let required = Int(flags & 0xff00)
    let abis = [0x0100: ",64bit", 0x0200: ",IA-64", 0x0300: ",x86-64", 0x0400: ",64bit", 0x0500: ",64bit",
                0x0600: ",N32", 0x0700: ",64bit", 0x0800: ",x32", 0x0900: ",hard-float", 0x0a00: ",AArch64",
                0x0b00: ",soft-float", 0x0c00: ",nan2008", 0x0d00: ",N32,nan2008", 0x0e00: ",64bit,nan2008",
                0x0f00: ",soft-float", 0x1000: ",double-float", 0x1100: ",soft-float", 0x1200: ",double-float"]
    if required != 0 { text += abis[required] ?? ",\(required)" }
    return text
}

/// Bounds-checked reads of integers and C strings from a byte array.
private struct ByteReader {
    let bytes: [UInt8]
    var bigEndian: Bool

    func uint32(at offset: Int) -> UInt32? {
        guard offset >= 0, offset + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for index in 0..<4 {
            let byte = UInt32(bytes[offset + (bigEndian ? index : 3 - index)])
            value = value << 8 | byte
        }
        return value
    }

    func uint64(at offset: Int) -> UInt64? {
        guard let first = uint32(at: offset), let second = uint32(at: offset + 4) else { return nil }
        return bigEndian ? UInt64(first) << 32 | UInt64(second) : UInt64(second) << 32 | UInt64(first)
    }

    func string(at offset: Int) -> String? {
        guard offset >= 0, offset < bytes.count, let end = bytes[offset...].firstIndex(of: 0) else { return nil }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }
}
