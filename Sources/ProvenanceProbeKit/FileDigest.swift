import Crypto
import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Digests of files read in 1 MiB blocks, so a dataset of any size is hashed in constant memory.
public enum FileDigest {
    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Lower-case hex SHA-256 of the file's bytes. The corresponding C functions are `open` and `read`.
    public static func sha256(path: String) throws(Error) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Error(description: "\(path): \(String(cString: strerror(errno)).lowercased())") }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            throw Error(description: "\(path): is a directory, not a file")
        }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Error(description: "\(path): \(String(cString: strerror(errno)).lowercased())")
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return hexString(hasher.finalize())
    }
}
