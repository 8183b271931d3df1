#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Just enough ELF to tell a dynamically linked program (it has a PT_INTERP program header: the
/// kernel starts its dynamic loader, which honours LD_PRELOAD) from a statically linked one.
enum ELF {
    /// true: PT_INTERP present; false: an ELF file without one; nil: not an ELF file we can read.
    static func hasInterpreter(path: [UInt8]) -> Bool? {
        let fd = TracePath.withCString(path) { open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 64)
        guard pread(fd, &header, 64, 0) == 64, header.starts(with: [0x7f, 0x45, 0x4c, 0x46]) else { return nil }
        return programHeaderTypes(header: header) { offset, count in
            var bytes = [UInt8](repeating: 0, count: count)
            return pread(fd, &bytes, count, off_t(offset)) == count ? bytes : nil
        }?.contains(3 /* PT_INTERP */)
    }

    /// The `p_type` of each program header, reading the table with `read(offset, count)`.
    static func programHeaderTypes(header: [UInt8], read: (Int, Int) -> [UInt8]?) -> [UInt32]? {
        let is64 = header[4] == 2
        let little = header[5] == 1
        func integer(_ bytes: [UInt8], _ at: Int, _ size: Int) -> Int {
            var value = 0
            for index in 0..<size {
                let byte = Int(bytes[at + (little ? index : size - 1 - index)])
                value |= byte << (8 * index)
            }
            return value
        }
        let tableOffset = is64 ? integer(header, 32, 8) : integer(header, 28, 4)
        let entrySize = is64 ? integer(header, 54, 2) : integer(header, 42, 2)
        let entries = is64 ? integer(header, 56, 2) : integer(header, 44, 2)
        guard entrySize >= 4, entries < 4096, let table = read(tableOffset, entrySize * entries) else { return nil }
        return (0..<entries).map { UInt32(integer(table, $0 * entrySize, 4)) }
    }
}
