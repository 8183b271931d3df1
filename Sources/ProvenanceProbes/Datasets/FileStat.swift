#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the stat cache and change detection compare: device, inode, size, and the modification
/// and status-change times in nanoseconds. Any difference means the file may have changed.
public struct FileStat: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var mtimeNanoseconds: Int64
    public var ctimeNanoseconds: Int64
    /// The file type bits (`st_mode & S_IFMT`); not compared.
    public var type: UInt32

    public init(device: UInt64, inode: UInt64, size: Int64, mtimeNanoseconds: Int64, ctimeNanoseconds: Int64,
                type: UInt32 = UInt32(S_IFREG))
    {
        self.device = device
        self.inode = inode
        self.size = size
        self.mtimeNanoseconds = mtimeNanoseconds
        self.ctimeNanoseconds = ctimeNanoseconds
        self.type = type
    }

    public init(_ info: stat) {
        self.init(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                  mtimeNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                  ctimeNanoseconds: Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec),
                  type: UInt32(info.st_mode) & UInt32(S_IFMT))
    }

    /// Same file, same content as far as the kernel can tell: everything but the type.
    public func sameVersion(as other: FileStat) -> Bool {
        device == other.device && inode == other.inode && size == other.size
            && mtimeNanoseconds == other.mtimeNanoseconds && ctimeNanoseconds == other.ctimeNanoseconds
    }

    public static func == (a: FileStat, b: FileStat) -> Bool { a.sameVersion(as: b) }

    public var isRegular: Bool { type == UInt32(S_IFREG) }

    /// The later of the modification and status-change times.
    public var lastChangeNanoseconds: Int64 { max(mtimeNanoseconds, ctimeNanoseconds) }
}
