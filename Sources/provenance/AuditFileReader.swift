#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads the audit's manifests one after another into one reused buffer: one `open`, `fstat` and
/// (for a file that does not grow meanwhile) one `read(2)` per file, no allocation per file.
struct AuditFileReader {
    /// Manifests are small; anything larger is not one (as `readInputFile` says).
    static let maxBytes = 64 << 20

    private var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)

    /// Calls `body` with the bytes of the regular file at `path` (valid during the call only).
    mutating func withBytes<R>(of path: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else {
            let code = errno
            throw UserError(message: "\(path): \(message(code))", code: Exit.noInput)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw UserError(message: "\(path): \(message(errno))", code: Exit.noInput) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw UserError(message: "\(path): not a regular file", code: Exit.noInput)
        }
        // One byte more than the size: a file that grew is read on until its end.
        var filled = 0
        while true {
            if filled == buffer.count {
                guard buffer.count <= AuditFileReader.maxBytes else {
                    throw UserError(message: "\(path): larger than 64 MiB: not a manifest", code: Exit.badInput)
                }
                grow(to: buffer.count * 2)
            } else if filled == 0, Int(info.st_size) + 1 > buffer.count {
                grow(to: min(Int(info.st_size) + 1, AuditFileReader.maxBytes + 2))
            }
            let count = read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            if count < 0 {
                if errno == EINTR { continue }
                throw UserError(message: "\(path): \(message(errno))", code: Exit.noInput)
            }
            if count == 0 { break }
            filled += count
        }
        guard filled <= AuditFileReader.maxBytes else {
            throw UserError(message: "\(path): larger than 64 MiB: not a manifest", code: Exit.badInput)
        }
        return try body(UnsafeBufferPointer(start: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count: filled))
    }

    private mutating func grow(to count: Int) {
        let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 16)
        larger.copyMemory(from: UnsafeRawBufferPointer(buffer))
        buffer.deallocate()
        buffer = larger
    }

    func deallocate() { buffer.deallocate() }

    private func message(_ code: Int32) -> String {
        code == ENOENT ? "no such file" : String(decoding: UnsafeRawBufferPointer(start: strerror(code), count: strlen(strerror(code))), as: UTF8.self).lowercased()
    }
}
