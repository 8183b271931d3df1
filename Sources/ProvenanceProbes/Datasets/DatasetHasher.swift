import Crypto
import ProvenanceCore
import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The hashing engine: lists a dataset (a directory tree or one file), takes unchanged files'
/// digests from the stat cache, hashes the rest with SHA-256 on several threads, and computes
/// the dataset digest over the sorted listing (`DatasetListing`).
///
/// Large files are handed out first (largest first) so the threads finish together; small files
/// follow in path order, in batches, so per-file overhead is a handful of system calls. Without
/// a stat cache to compare with, files are listed without `stat` and a file costs `openat`,
/// `fstat`, `read`, `fstat`, `close` (a large one found that way is hashed after the small ones);
/// with one, the listing `stat`s every file and a changed file costs `openat`, `read`, `fstat`,
/// `close` more. Files larger than the read buffer are hashed through memory-mapped windows
/// (`FileHasher`).
public struct DatasetHasher: Sendable {
    /// Hashing threads (default: the CPUs this process may use).
    public var threads: Int = availableCPUs()
    /// The read buffer of each thread; larger files are mapped instead, `mapWindowSize` at a time.
    public var bufferSize: Int = 1 << 20
    var mapWindowSize: Int = 32 << 20
    /// The stat cache's directory; nil: no cache, neither read nor written.
    public var cacheDirectory: String?
    /// A file whose last modification or status change is less than this before the hash started
    /// is hashed but not cached: a change right after it might not move its timestamps (coarse
    /// file system clocks, clock skew with a file server), and the cache would hide it.
    public var racyNanoseconds: Int64 = 2_000_000_000
    public var progress: DatasetProgress?
    /// Tests: called once the tree is listed, before any file is read.
    public var afterListing: (@Sendable () -> Void)?
    /// Tests: called with a file's relative path after its first chunk was read.
    public var duringRead: (@Sendable ([UInt8]) -> Void)?

    public init(cacheDirectory: String? = nil) {
        self.cacheDirectory = cacheDirectory
    }

    /// Hashes the file or directory at `path` (absolute; symbolic links in it are followed).
    public func hash(path: String) throws(DatasetError) -> DatasetResult {
        let startedNanoseconds = realtimeNanoseconds()

        guard let resolved = realpath(path, nil) else { throw DatasetError("\(path): \(errorText(errno))") }
        let realPath = String(cString: resolved)
        free(resolved)
        var info = stat()
        guard stat(realPath, &info) == 0 else { throw DatasetError("\(path): \(errorText(errno))") }

        // The stat cache: digests of files whose stat has not changed.
        var statistics = DatasetStatistics()
        let cacheFile = cacheDirectory.map { $0 + "/" + DatasetCache.fileName(realPath: realPath) }
        var table: DatasetCache.Table?
        if let cacheFile {
            if let bytes = DatasetCache.readFile(cacheFile) {
                switch DatasetCache.decode(bytes, realPath: realPath) {
                case .success(let decoded):
                    table = decoded
                    statistics.cache = "used"
                case .failure(let problem):
                    statistics.cache = "ignored: \(problem)"
                }
            } else {
                statistics.cache = "new"
            }
        }

        let kind: DatasetResult.Kind
        let root: Int32
        var walked: DatasetWalker.Output
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            kind = .directory
            root = open(realPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard root >= 0 else { throw DatasetError("\(path): \(errorText(errno))") }
            walked = DatasetWalker(root: root, rootRealPath: realPath, threads: threads, statFiles: table != nil,
                                   progress: progress).walk()
        case S_IFREG:
            kind = .file
            let slash = realPath.lastIndex(of: "/")!
            let parent = slash == realPath.startIndex ? "/" : String(realPath[..<slash])
            root = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard root >= 0 else { throw DatasetError("\(parent): \(errorText(errno))") }
            walked = DatasetWalker.Output()
            walked.paths = [Array(realPath[realPath.index(after: slash)...].utf8)]
            walked.stats = [FileStat(info)]
            progress?.listed(1)
        default:
            throw DatasetError("\(path): not a regular file or directory")
        }
        defer { close(root) }

        // Paths and stats in separate arrays, sorted by path bytes: a file is never copied whole.
        let sorted = DatasetListing.sortedOrder(walked.paths, threads: threads)
        let paths = sorted.map { walked.paths[$0] }
        let stats = sorted.map { walked.stats[$0] }
        walked.paths = []
        walked.stats = []
        walked.symlinks.sort { DatasetListing.compare($0.path, $1.path) < 0 }
        var skipped = walked.skipped

        // Digests from the cache; empty without one (fresh memory costs page faults).
        var digests = [FileDigest?](repeating: nil, count: table == nil ? 0 : paths.count)
        var todo: [Int] = []
        if let table {
            let matches = DatasetCache.match(paths, in: table)
            for index in paths.indices {
                if let entry = matches[index], let stat = stats[index], table.stat(entry).sameVersion(as: stat) {
                    digests[index] = table.digest(entry)
                    statistics.cacheHits += 1
                } else {
                    todo.append(index)
                }
            }
        } else {
            todo = Array(paths.indices)
        }
        afterListing?()

        // Large files first, largest first; then the small ones and those of unknown size in path
        // order (unknown ones found large are handed out again after them, by the queue).
        let large = Int64(bufferSize) * 4
        let sizes = stats.map { $0?.size ?? 0 }
        let order = todo.filter { sizes[$0] >= large }.sorted { sizes[$0] > sizes[$1] } + todo.filter { sizes[$0] < large }
        progress?.startHashing(files: paths.count, bytes: todo.reduce(0) { $0 + sizes[$1] })
        progress?.add(files: statistics.cacheHits, bytes: 0)

        let outcomes = OutcomeSlots(count: paths.count)
        let queue = WorkQueue(order: order, sizes: order.map { sizes[$0] })
        let (bufferSize, windowSize, progress, duringRead) = (self.bufferSize, mapWindowSize, self.progress, self.duringRead)
        runParallel(min(threads, max(1, order.count))) { _ in
            let hasher = FileHasher(bufferSize: bufferSize)
            hasher.windowSize = windowSize
            hasher.duringRead = duringRead
            if let progress { hasher.onBytes = { progress.add(files: 0, bytes: Int64($0)) } }
            while let batch = queue.next() {
                for index in batch {
                    // A file given back as large comes again with the stat it had then.
                    var expected = stats[index]
                    if case .large(let stat)? = outcomes[index] { expected = stat }
                    let outcome = hasher.hash(directory: root, path: paths[index], expected: expected, deferLarge: large)
                    outcomes[index] = outcome
                    switch outcome {
                    case .large(let stat):
                        progress?.addTotal(bytes: stat.size)
                        queue.deferLarge(index, size: stat.size)
                        continue
                    case .hashed(_, let stat) where expected == nil:
                        progress?.addTotal(bytes: stat.size)
                    default:
                        break
                    }
                    progress?.add(files: 1, bytes: 0)
                }
                queue.finish()
            }
        }

        // A file that changed while it was read gets one more try with its new stat.
        let retry = FileHasher(bufferSize: bufferSize)
        retry.duringRead = duringRead
        retry.windowSize = windowSize
        for index in order {
            guard case .changed = outcomes[index] else { continue }
            var info = stat()
            var again: FileHasher.Outcome = .vanished
            if fstatatPath(root, paths[index], &info) == 0 {
                let fresh = FileStat(info)
                if fresh.isRegular {
                    again = retry.hash(directory: root, path: paths[index], expected: fresh)
                } else {
                    again = .changed(after: fresh)
                }
            }
            outcomes[index] = again
        }

        var hashed: [DatasetFile] = []
        hashed.reserveCapacity(paths.count)
        var entries: [DatasetCache.Entry] = []
        var totalBytes: Int64 = 0
        for index in paths.indices {
            let path = paths[index]
            var stat = stats[index]
            var digest = digests.isEmpty ? nil : digests[index]
            switch outcomes[index] {
            case .hashed(let value, let after)?:
                digest = value
                stat = after
                statistics.filesRead += 1
                statistics.bytesRead += after.size
            case .changed?:
                skipped.append(DatasetSkip(path: path, kind: .changed, reason: "changed while being hashed (twice)"))
            case .vanished?:
                skipped.append(DatasetSkip(path: path, kind: .vanished, reason: "removed before it could be hashed"))
            case .failed(let reason)?:
                skipped.append(DatasetSkip(path: path, kind: .unreadable, reason: reason))
            case .large?:  // Not expected: the queue hands every file given back out again.
                skipped.append(DatasetSkip(path: path, kind: .unreadable, reason: "not hashed"))
            case nil:
                break
            }
            guard let digest, let stat else { continue }
            hashed.append(DatasetFile(path: path, size: stat.size, digest: digest))
            totalBytes += stat.size
            if cacheFile != nil, stat.lastChangeNanoseconds < startedNanoseconds - racyNanoseconds {
                entries.append(DatasetCache.Entry(path: path, stat: stat, digest: digest))
            }
        }

        if let cacheFile, table == nil || !todo.isEmpty || table!.count != entries.count {
            statistics.cacheWrite = Self.writeCache(cacheFile, DatasetCache.encode(realPath: realPath, entries: entries))
        }

        if kind == .file, !hashed.isEmpty {
            // The listing names a single file as it was given (a link's name, not its target's).
            hashed[0].path = Array((path.split(separator: "/").last.map(String.init) ?? path).utf8)
        }
        skipped.sort { DatasetListing.compare($0.path, $1.path) < 0 }
        let listing = DatasetListing.listing(hashed, threads: threads)
        return DatasetResult(path: path, realPath: realPath, kind: kind, files: hashed, symlinks: walked.symlinks,
                             skipped: skipped, listing: listing, digest: FileDigest(bytes: SHA256.hash(data: listing)),
                             totalBytes: totalBytes, statistics: statistics)
    }

    /// Writes the cache file (its directory private to the user); "written", or why not.
    static func writeCache(_ file: String, _ bytes: [UInt8]) -> String {
        let directory = String(file[..<file.lastIndex(of: "/")!])
        makePrivateDirectories(directory)
        do {
            try AtomicFile.write(bytes, to: file, mode: 0o600)
            return "written"
        } catch {
            return "failed: \(error.description)"
        }
    }

    private static func makePrivateDirectories(_ directory: String) {
        var info = stat()
        if directory.isEmpty || stat(directory, &info) == 0 { return }
        if let slash = directory.lastIndex(of: "/"), slash != directory.startIndex {
            makePrivateDirectories(String(directory[..<slash]))
        }
        mkdir(directory, 0o700)
    }
}

/// A dataset that cannot be hashed at all (missing, not a file or directory).
public struct DatasetError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

private func fstatatPath(_ directory: Int32, _ path: [UInt8], _ info: inout stat) -> Int32 {
    var buffer = [CChar](repeating: 0, count: path.count + 1)
    copyCString(path, into: &buffer)
    return fstatat(directory, buffer, &info, AT_SYMLINK_NOFOLLOW)
}

/// Per-file result slots written by the hashing threads (each index by exactly one thread).
private final class OutcomeSlots: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<FileHasher.Outcome?>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: max(1, count))
        slots.initialize(repeating: nil, count: max(1, count))
    }

    deinit {
        slots.deinitialize(count: max(1, count))
        slots.deallocate()
    }

    subscript(index: Int) -> FileHasher.Outcome? {
        get { slots[index] }
        set { slots[index] = newValue }
    }
}
