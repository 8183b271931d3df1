import Crypto
import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// SHA-256 of one file read in 1 MiB blocks, in constant memory whatever its size: the subjects
/// of `attest` and the outputs of `run` (datasets have their own parallel hasher, `DatasetHasher`).
public enum FileSHA256 {
    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public let description: String
        /// The file is not there (`open` said ENOENT).
        public var missing = false
    }

    /// Lower-case hex SHA-256 of the file's bytes. The corresponding C functions are `open` and `read`.
    public static func sha256(path: String) throws(Error) -> String {
        try sha256AndSize(path: path).digest
    }

    /// Lower-case hex SHA-256 of the file's bytes and how many bytes were read.
    public static func sha256AndSize(path: String) throws(Error) -> (digest: String, bytes: Int64) {
        try sha256AndSize(pathBytes: Array(path.utf8))
    }

    /// The same for a path given as bytes (a traced path need not be valid UTF-8); messages show
    /// it with U+FFFD in place of invalid sequences.
    public static func sha256AndSize(pathBytes: [UInt8]) throws(Error) -> (digest: String, bytes: Int64) {
        let path = String(decoding: pathBytes, as: UTF8.self)
        let fd = (pathBytes + [0]).withUnsafeBufferPointer {
            $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_RDONLY | O_CLOEXEC) }
        }
        guard fd >= 0 else {
            let code = errno
            throw Error(description: "\(path): \(String(cString: strerror(code)).lowercased())", missing: code == ENOENT)
        }
        defer { close(fd) }
        var info = stat()
        let known = fstat(fd, &info) == 0
        if known, (info.st_mode & S_IFMT) == S_IFDIR {
            throw Error(description: "\(path): is a directory, not a file")
        }
        var hasher = SHA256()
        // No larger than the file needs (+1 to see its end in one read): a traced job's 10,000
        // files of 1 KiB took 6.3 s to digest with a fresh 1 MiB buffer each (zeroed), on a busy machine.
        let size = known && (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : 1 << 20
        var buffer = [UInt8](repeating: 0, count: max(4096, min(size + 1, 1 << 20)))
        var total: Int64 = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Error(description: "\(path): \(String(cString: strerror(errno)).lowercased())")
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            total += Int64(count)
        }
        return (hexString(hasher.finalize()), total)
    }
}
