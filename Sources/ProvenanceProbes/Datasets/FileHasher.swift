import Crypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Hashes regular files with `read(2)` into one reused buffer: one per worker thread, never shared.
///
/// A file is opened relative to the dataset's directory descriptor without following a final
/// symbolic link and without blocking (a FIFO put in a file's place cannot hang the read), read
/// until the size the walk saw, and checked with `fstat` afterwards: if the device, inode, size,
/// modification or status-change time differs from what the walk saw, the file changed while it
/// was hashed and the digest is not used.
final class FileHasher {
    enum Outcome: Equatable {
        case hashed(FileDigest, bytesRead: Int64)
        /// Stat before and after differ (or the file ended early): `after` is the latest stat.
        case changed(after: FileStat?)
        /// Gone between the walk and the open.
        case vanished
        case failed(String)
    }

    private let buffer: UnsafeMutableRawBufferPointer
    private var pathBuffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    /// Called with the relative path after the first chunk of a file was read (tests change the
    /// file there to see the change detected).
    var duringRead: (@Sendable ([UInt8]) -> Void)?
    /// Called with the number of bytes of each chunk read (progress).
    var onBytes: ((Int) -> Void)?

    init(bufferSize: Int) {
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(4096, bufferSize), alignment: 4096)
    }

    deinit { buffer.deallocate() }

    /// Hashes `path` (relative to `directory`, a descriptor) whose walk-time stat was `expected`.
    func hash(directory: Int32, path: [UInt8], expected: FileStat) -> Outcome {
        guard path.count < pathBuffer.count else { return .failed("path longer than PATH_MAX") }
        pathBuffer.withUnsafeMutableBufferPointer { out in
            path.withUnsafeBufferPointer { input in
                UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: input.baseAddress!, byteCount: input.count)
            }
            out[path.count] = 0
        }
        var fd = openat(directory, pathBuffer, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | noAccessTime)
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

        let size = expected.size
        if size > Int64(buffer.count) { _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) }
        var hasher = SHA256()
        var total: Int64 = 0
        var first = true
        while total < size {
            let want = Int(min(Int64(buffer.count), size - total))
            let count = read(fd, buffer.baseAddress, want)
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                // EAGAIN: not a regular file any more (O_NONBLOCK on a FIFO or socket).
                if code == EAGAIN { return .changed(after: nil) }
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
        return .hashed(FileDigest(bytes: hasher.finalize()), bytesRead: total)
    }
}

/// `O_NOATIME` (Linux; not exported by the Glibc module): reading does not update access times.
private let noAccessTime: Int32 = 0o1000000

/// The lower-case text of an errno value ("permission denied").
func errorText(_ code: Int32) -> String {
    String(cString: strerror(code)).lowercased()
}
