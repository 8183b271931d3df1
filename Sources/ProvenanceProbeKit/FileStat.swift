import CGlibcExtras

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

    /// What `stat` (`following` links) or `lstat` says of a host path; nil when it fails (no such
    /// file, no permission to look).
    public init?(path: String, following: Bool) {
        var info = stat()
        guard (following ? stat(path, &info) : lstat(path, &info)) == 0 else { return nil }
        self.init(info)
    }

    /// Facts changed within this much before a capture began are not trusted: a change after
    /// the capture began gets a time at most one clock tick (≤ 10 ms) before it, so a time older
    /// than the margin means no change since (50 ms).
    public static let racyMarginNanoseconds: Int64 = 50_000_000
    /// The margin for whole-second times (no nanoseconds: ext4 with 128-byte inodes, some
    /// mounts): a change within the same second keeps the time; 2 s.
    public static let coarseRacyMarginNanoseconds: Int64 = 2_000_000_000

    /// Whether the times are too close to when a capture began (`began`, `CLOCK_REALTIME`
    /// nanoseconds) to tell that the file did not change while the capture read it ("racy", as
    /// git calls it): within `margin`, or within `coarseRacyMarginNanoseconds` for whole-second
    /// times (a filesystem or inode without nanoseconds).
    public func isRacy(began: Int64, margin: Int64 = racyMarginNanoseconds) -> Bool {
        let coarse = mtimeNanoseconds % 1_000_000_000 == 0 && ctimeNanoseconds % 1_000_000_000 == 0
        return lastChangeNanoseconds >= began - (coarse ? Self.coarseRacyMarginNanoseconds : margin)
    }

    /// Whether the filesystem holding `path` keeps this machine's times (`statfs`): ext4, XFS,
    /// btrfs, tmpfs, overlayfs, ZFS, F2FS or bcachefs. NFS, Lustre or GPFS times come from a
    /// server's clock, and their attributes may be cached stale: what is remembered by file times
    /// is never trusted there.
    public static func trustsTimes(of path: String) -> Bool {
        let local: Set<UInt64> = [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994, 0x794C_7630, 0x2FC1_2FC1,
                                  0xF2F5_2010, 0xCA45_1A4E]
        return local.contains(UInt64(UInt32(truncatingIfNeeded: provenance_filesystem_type(path))))
    }
}
