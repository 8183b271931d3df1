import Crypto
import ProvenanceProbeKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Hashes regular files: small ones with `read(2)` into one reused buffer, larger ones through
/// memory-mapped windows. One per worker thread, never shared.
///
/// A file is opened relative to the dataset's directory descriptor without following a final
/// symbolic link and without blocking (a FIFO put in a file's place cannot hang the read), read
/// until the size the walk saw, and checked with `fstat` afterwards: if the device, inode, size,
/// modification or status-change time differs from what the walk saw, the file changed while it
/// was hashed and the digest is not used. A file the walk did not `stat` (no cache to compare
/// with) is `fstat`ed once opened instead, which costs less than a `stat` by name.
final class FileHasher {
    enum Outcome: Equatable {
        /// `stat` is the file's stat after the read (the same as before it).
        case hashed(FileDigest, stat: FileStat)
        /// Stat before and after differ (or the file ended early): `after` is the latest stat.
        case changed(after: FileStat?)
        /// Gone between the walk and the open.
        case vanished
        case failed(String)
        /// Not read: at least the `deferLarge` size given to `hash`; hash it later with this stat.
        case large(FileStat)
    }

    private let buffer: UnsafeMutableRawBufferPointer
    private var pathBuffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    /// Called with the relative path after the first chunk of a file was read (tests change the
    /// file there to see the change detected).
    var duringRead: (@Sendable ([UInt8]) -> Void)?
    /// Called with the number of bytes of each chunk read (progress).
    var onBytes: ((Int) -> Void)?

    /// Files larger than the buffer are mapped in windows of this size instead of read.
    var windowSize = 32 << 20
    /// The slot of `MappedRegionGuard` this hasher's windows use; nil: read, never map.
    private var guardSlot: Int?

    init(bufferSize: Int, mapLargeFiles: Bool = true) {
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(4096, bufferSize), alignment: 4096)
        guardSlot = mapLargeFiles ? MappedRegionGuard.claim() : nil
    }

    deinit {
        buffer.deallocate()
        if let guardSlot { MappedRegionGuard.release(guardSlot) }
    }

    private enum MappedOutcome { case done, truncated, unavailable }

    /// Hashes `size` bytes of `fd` through read-only mappings, one window at a time: no copy from
    /// the page cache (`read(2)` costs about 15% more CPU at SHA-NI speed). A window that meets
    /// the file's end early (truncated meanwhile) reads as zeros under `MappedRegionGuard` and is
    /// reported. `unavailable` when the first mapping fails; the caller reads from `total` on.
    private func hashMapped(_ fd: Int32, size: Int64, into hasher: inout SHA256, total: inout Int64,
                            path: [UInt8]) -> MappedOutcome
    {
        guard let slot = guardSlot else { return .unavailable }
        while total < size {
            let length = Int(min(Int64(windowSize), size - total))
            guard let window = mmap(nil, length, PROT_READ, MAP_SHARED, fd, off_t(total)), window != MAP_FAILED else {
                return .unavailable
            }
            _ = madvise(window, length, MADV_SEQUENTIAL)
            MappedRegionGuard.arm(slot, start: window, length: length)
            hasher.update(bufferPointer: UnsafeRawBufferPointer(start: window, count: length))
            let truncated = MappedRegionGuard.disarm(slot)
            munmap(window, length)
            if truncated { return .truncated }
            total += Int64(length)
            onBytes?(length)
            if total == Int64(length) { duringRead?(path) }
        }
        return .done
    }

    /// Hashes `path` (relative to `directory`, a descriptor) whose walk-time stat was `expected`
    /// (nil: not known, taken with `fstat` once the file is open). A file of unknown size that
    /// turns out at least `deferLarge` bytes long is not read but returned as `.large`.
    func hash(directory: Int32, path: [UInt8], expected known: FileStat?, deferLarge: Int64? = nil) -> Outcome {
        guard path.count < pathBuffer.count else { return .failed("path longer than PATH_MAX") }
        pathBuffer.withUnsafeMutableBufferPointer { out in
            path.withUnsafeBufferPointer { input in
                UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: input.baseAddress!, byteCount: input.count)
            }
            out[path.count] = 0
        }
        // O_NOATIME (0o1000000; the Glibc module does not export it): no access-time updates.
        var fd = openat(directory, pathBuffer, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | 0o1000000)
        if fd < 0 && errno == EPERM {
            // O_NOATIME needs to own the file (or CAP_FOWNER).
            fd = openat(directory, pathBuffer, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
        }
        if fd < 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return .vanished }
            // ELOOP: the final component became a symbolic link since the walk.
            if code == ELOOP { return .changed(after: nil) }
            return .failed(errorText(code))
        }
        defer { close(fd) }

        let expected: FileStat
        if let known {
            expected = known
        } else {
            var info = stat()
            guard fstat(fd, &info) == 0 else { return .failed(errorText(errno)) }
            expected = FileStat(info)
            // Listed as a regular file, now something else (a FIFO put in its place).
            guard expected.isRegular else { return .changed(after: expected) }
            if let deferLarge, expected.size >= deferLarge { return .large(expected) }
        }
        let size = expected.size
        var hasher = SHA256()
        var total: Int64 = 0
        var first = true
        if size > Int64(buffer.count) {
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
            switch hashMapped(fd, size: size, into: &hasher, total: &total, path: path) {
            case .done: break
            case .truncated: return .changed(after: nil)
            case .unavailable: break  // Not mappable here (some file systems): read the rest.
            }
            first = total == 0
        }
        while total < size {
            let want = Int(min(Int64(buffer.count), size - total))
            // pread: after a mapped part the descriptor's offset is still 0.
            let count = pread(fd, buffer.baseAddress, want, off_t(total))
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                // EAGAIN, ESPIPE: not a regular file any more (a FIFO or socket put in its place).
                if code == EAGAIN || code == ESPIPE { return .changed(after: nil) }
                return .failed(errorText(code))
            }
            if count == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(start: buffer.baseAddress, count: count))
            total += Int64(count)
            onBytes?(count)
            if first {
                first = false
                duringRead?(path)
            }
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failed(errorText(errno)) }
        let after = FileStat(info)
        guard after.isRegular, after.sameVersion(as: expected), total == size else { return .changed(after: after) }
        return .hashed(hasher.finalize().withUnsafeBytes { FileDigest(raw: $0) }, stat: after)
    }
}

/// The lower-case text of an errno value ("permission denied").
func errorText(_ code: Int32) -> String {
    String(cString: strerror(code)).lowercased()
}
