import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Lists a dataset's directory tree, directories in parallel: regular files with their stat,
/// symbolic links with their targets, and what cannot be hashed.
///
/// Directories are opened relative to the dataset's descriptor with `O_NOFOLLOW`. Entries are
/// told apart by the type `getdents` gives, regular files are `stat`ed only when asked (the stat
/// cache compares them; otherwise `FileHasher` takes the stat from the open file, which is
/// cheaper), and entries of unknown type are examined with `fstatat(AT_SYMLINK_NOFOLLOW)`;
/// symbolic links are read with `readlinkat`, so a symbolic link is
/// recorded and never followed; FIFOs, sockets and devices are listed, never opened. A directory
/// whose device and inode equal one of its ancestors' (a bind mount of a parent) is not walked
/// again.
final class DatasetWalker: @unchecked Sendable {
    struct Output: Sendable {
        /// Regular files: relative paths, and stats (nil when the walk did not `stat` the file).
        var paths: [[UInt8]] = []
        var stats: [FileStat?] = []
        var symlinks: [DatasetSymlink] = []
        var skipped: [DatasetSkip] = []
    }

    private struct Job {
        var path: [UInt8]
        var ancestors: [(UInt64, UInt64)]
    }

    private let root: Int32
    private let rootRealPath: [UInt8]
    private let threads: Int
    private let statFiles: Bool
    private let progress: DatasetProgress?
    private let mutex = Mutex()
    private var pending: [Job] = []
    private var active = 0
    private var merged = Output()

    /// `root` is an open descriptor of the dataset directory, `rootRealPath` its resolved path;
    /// `statFiles`: `stat` every regular file (else only entries of unknown type).
    init(root: Int32, rootRealPath: String, threads: Int, statFiles: Bool, progress: DatasetProgress?) {
        self.root = root
        self.rootRealPath = Array(rootRealPath.utf8)
        self.threads = max(1, threads)
        self.statFiles = statFiles
        self.progress = progress
    }

    func walk() -> Output {
        pending = [Job(path: [], ancestors: [])]
        runParallel(threads) { _ in self.work() }
        return merged
    }

    private func work() {
        var local = Output()
        var nameBuffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        while let job = next() {
            let children = list(job, into: &local, pathBuffer: &nameBuffer)
            finish(children)
        }
        mutex.withLock {
            merged.paths += local.paths
            merged.stats += local.stats
            merged.symlinks += local.symlinks
            merged.skipped += local.skipped
        }
    }

    /// The next directory to list; nil when none is left and no worker can add one.
    private func next() -> Job? {
        mutex.lock()
        defer { mutex.unlock() }
        while pending.isEmpty {
            if active == 0 { return nil }
            mutex.wait(until: monotonicSeconds() + 1)
        }
        active += 1
        return pending.removeLast()
    }

    private func finish(_ children: [Job]) {
        mutex.withLock {
            pending += children
            active -= 1
            mutex.broadcast()
        }
    }

    private func list(_ job: Job, into out: inout Output, pathBuffer: inout [CChar]) -> [Job] {
        let fd: Int32
        if job.path.isEmpty {
            fd = dup(root)
        } else {
            guard job.path.count < pathBuffer.count else {
                out.skipped.append(DatasetSkip(path: job.path, kind: .unreadable, reason: "path longer than PATH_MAX"))
                return []
            }
            copyCString(job.path, into: &pathBuffer)
            fd = openat(root, pathBuffer, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        }
        if fd < 0 {
            let code = errno
            switch code {
            case ENOENT: out.skipped.append(DatasetSkip(path: job.path, kind: .vanished, reason: "directory removed while listed"))
            case ELOOP, ENOTDIR:
                out.skipped.append(DatasetSkip(path: job.path, kind: .changed, reason: "directory replaced while listed"))
            default:
                out.skipped.append(DatasetSkip(path: job.path, kind: .unreadable, reason: "directory: \(errorText(code))"))
            }
            return []
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            out.skipped.append(DatasetSkip(path: job.path, kind: .unreadable, reason: "directory: \(errorText(code))"))
            return []
        }
        let identity = (UInt64(info.st_dev), UInt64(info.st_ino))
        if job.ancestors.contains(where: { $0 == identity }) {
            close(fd)
            out.skipped.append(DatasetSkip(path: job.path, kind: .directoryLoop,
                                           reason: "the same directory as one of its parents (a bind mount?): not walked again"))
            return []
        }
        guard let directory = fdopendir(fd) else {
            let code = errno
            close(fd)
            out.skipped.append(DatasetSkip(path: job.path, kind: .unreadable, reason: "directory: \(errorText(code))"))
            return []
        }
        defer { closedir(directory) }
        let directoryFD = dirfd(directory)
        let ancestors = job.ancestors + [identity]
        var children: [Job] = []
        var listedFiles = 0
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 {
                    out.skipped.append(DatasetSkip(path: job.path, kind: .unreadable,
                                                   reason: "reading the directory: \(errorText(errno))"))
                }
                break
            }
            let type = Int32(entry.pointee.d_type)
            withUnsafePointer(to: &entry.pointee.d_name) { raw in
                raw.withMemoryRebound(to: CChar.self, capacity: 256) { name in
                    let length = strlen(name)
                    if name[0] == 0x2E && (length == 1 || (length == 2 && name[1] == 0x2E)) { return }
                    var path = job.path
                    if !path.isEmpty { path.append(0x2F) }
                    path.append(contentsOf: UnsafeRawBufferPointer(start: name, count: length))
                    var kind = type
                    var fileStat: FileStat?
                    if (statFiles && type == Int32(DT_REG)) || type == Int32(DT_UNKNOWN) {
                        var info = stat()
                        if fstatat(directoryFD, name, &info, AT_SYMLINK_NOFOLLOW) != 0 {
                            let code = errno
                            if code == ENOENT {
                                out.skipped.append(DatasetSkip(path: path, kind: .vanished, reason: "removed while listed"))
                            } else {
                                out.skipped.append(DatasetSkip(path: path, kind: .unreadable, reason: errorText(code)))
                            }
                            return
                        }
                        let stat = FileStat(info)
                        fileStat = stat
                        kind = Self.directoryEntryType(stat.type)
                    }
                    switch kind {
                    case Int32(DT_REG):
                        out.paths.append(path)
                        out.stats.append(fileStat)
                        listedFiles += 1
                    case Int32(DT_DIR):
                        children.append(Job(path: path, ancestors: ancestors))
                    case Int32(DT_LNK):
                        out.symlinks.append(symlink(directoryFD, name, path))
                    case Int32(DT_FIFO):
                        out.skipped.append(DatasetSkip(path: path, kind: .fifo, reason: "a FIFO: not opened"))
                    case Int32(DT_SOCK):
                        out.skipped.append(DatasetSkip(path: path, kind: .socket, reason: "a socket: not opened"))
                    case Int32(DT_BLK):
                        out.skipped.append(DatasetSkip(path: path, kind: .blockDevice, reason: "a block device: not opened"))
                    case Int32(DT_CHR):
                        out.skipped.append(DatasetSkip(path: path, kind: .characterDevice,
                                                       reason: "a character device: not opened"))
                    default:
                        out.skipped.append(DatasetSkip(path: path, kind: .unreadable, reason: "an unknown kind of file"))
                    }
                }
            }
        }
        if listedFiles > 0 { progress?.listed(listedFiles) }
        return children
    }

    /// The `DT_*` value of a `st_mode` file type.
    static func directoryEntryType(_ type: UInt32) -> Int32 {
        switch type {
        case UInt32(S_IFREG): return Int32(DT_REG)
        case UInt32(S_IFDIR): return Int32(DT_DIR)
        case UInt32(S_IFLNK): return Int32(DT_LNK)
        case UInt32(S_IFIFO): return Int32(DT_FIFO)
        case UInt32(S_IFSOCK): return Int32(DT_SOCK)
        case UInt32(S_IFBLK): return Int32(DT_BLK)
        case UInt32(S_IFCHR): return Int32(DT_CHR)
        default: return Int32(DT_UNKNOWN)
        }
    }

    /// A symbolic link's target and where it resolves to, without following it for hashing.
    private func symlink(_ directory: Int32, _ name: UnsafePointer<CChar>, _ path: [UInt8]) -> DatasetSymlink {
        var target = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = target.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                readlinkat(directory, name, $0, buffer.count - 1)
            }
        }
        target = count >= 0 ? Array(target[0..<count]) : []
        return DatasetSymlink(path: path, target: target, resolution: resolve(path))
    }

    private func resolve(_ path: [UInt8]) -> DatasetSymlink.Resolution {
        var full = rootRealPath
        if full != [0x2F] { full.append(0x2F) }
        full.append(contentsOf: path)
        full.append(0)
        let resolved = full.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { realpath($0, nil) }
        }
        guard let resolved else {
            switch errno {
            case ELOOP: return .loop
            case ENOENT: return .dangling
            default: return .unresolvable
            }
        }
        defer { free(resolved) }
        let bytes = Array(UnsafeRawBufferPointer(start: resolved, count: strlen(resolved)))
        if rootRealPath == [0x2F] || bytes == rootRealPath { return .inside }
        return bytes.starts(with: rootRealPath + [0x2F]) ? .inside : .outside
    }
}

/// Copies `bytes` into `buffer` as a NUL-terminated C string (the caller checked the length).
func copyCString(_ bytes: [UInt8], into buffer: inout [CChar]) {
    buffer.withUnsafeMutableBufferPointer { out in
        bytes.withUnsafeBufferPointer { input in
            if input.count > 0 {
                UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: input.baseAddress!, byteCount: input.count)
            }
        }
        out[bytes.count] = 0
    }
}
