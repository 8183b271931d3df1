#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One record of the interposer (`Sources/CProvenanceTrace/include/provenance_trace.h`).
public struct TraceEvent: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case open = 1, rename = 2, unlink = 3, exec = 4, execFailed = 5, start = 6
    }
    public var kind: Kind
    public var pid: Int32
    /// `start`: the parent process.
    public var parent: Int32 = 0
    /// `open`: open(2) flags; `exec`: `execNoPreload`, `execSpawn`; `start`: `startFork`, `startExec`.
    public var flags: UInt32 = 0
    /// `open`: the file's identity at open (mode 0: unknown).
    public var identity = FileIdentity()
    /// CLOCK_MONOTONIC nanoseconds: orders events of different processes.
    public var timeNanoseconds: UInt64 = 0
    /// Absolute, as the process named it (normalised by `TracePath.normalise`).
    public var path: [UInt8]
    /// `rename`: the new name.
    public var path2: [UInt8] = []

    public static let execNoPreload: UInt32 = 1
    public static let execSpawn: UInt32 = 2
    public static let startFork: UInt32 = 1

    public init(kind: Kind, pid: Int32, path: [UInt8]) {
        self.kind = kind
        self.pid = pid
        self.path = path
    }

    /// The open asked for writing (O_WRONLY, O_RDWR, O_CREAT or O_TRUNC).
    public var writes: Bool {
        flags & UInt32(O_ACCMODE) != UInt32(O_RDONLY) || flags & UInt32(O_CREAT | O_TRUNC) != 0
    }

    /// The open asked for reading (O_RDONLY or O_RDWR; not O_PATH, which reads nothing).
    public var reads: Bool {
        if flags & 0o10000000 /* O_PATH */ != 0 { return false }
        let mode = flags & UInt32(O_ACCMODE)
        return mode == UInt32(O_RDONLY) || mode == UInt32(O_RDWR)
    }
}

/// What identifies one version of a file: device, inode, size, modification and change times.
public struct FileIdentity: Sendable, Equatable {
    public var mode: UInt32 = 0
    public var device: UInt64 = 0
    public var inode: UInt64 = 0
    public var size: Int64 = 0
    public var modifiedNanoseconds: Int64 = 0
    public var changedNanoseconds: Int64 = 0

    public init() {}

    public init(_ info: stat) {
        mode = UInt32(info.st_mode)
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modifiedNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        changedNanoseconds = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
    }

    public var isRegularFile: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
    public var known: Bool { mode != 0 }

    /// The same version: the content can be taken as unchanged.
    public func sameVersion(as other: FileIdentity) -> Bool {
        device == other.device && inode == other.inode && size == other.size
            && modifiedNanoseconds == other.modifiedNanoseconds && changedNanoseconds == other.changedNanoseconds
    }
}
