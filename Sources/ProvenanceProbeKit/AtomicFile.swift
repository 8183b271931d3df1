import ProvenanceCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writes a file atomically: a temporary file in the same directory, fsync, rename over the
/// target. An interrupted write leaves the previous file intact, never a partial one.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Writes `bytes` to `path`, creating missing parent directories (mode 0755). A target that
    /// is a device, FIFO or socket (`-o /dev/null`, `-o /dev/stdout`) is written into, never
    /// replaced: renaming over it would turn `/dev/null` into a regular file.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(WriteError) {
        var info = stat()
        if stat(path, &info) == 0, case let type = info.st_mode & S_IFMT, type != S_IFREG && type != S_IFDIR {
            try writeInPlace(bytes, to: path)
            return
        }
        try write(bytes, to: path, mode: mode, replacing: true)
    }

    /// Writes into an existing special file (the corresponding C functions are `open` and `write`).
    private static func writeInPlace(_ bytes: [UInt8], to path: String) throws(WriteError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw WriteError(description: "cannot write \(path): \(errorText())") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                throw WriteError(description: "cannot write \(path): \(errorText())")
            }
            written += count
        }
    }

    /// Writes a new file atomically and never replaces one: the complete temporary file is
    /// hard-linked to `path` (the corresponding C function is `link`, which fails with `EEXIST`
    /// when the name exists, even if it appeared a moment ago). For keys and other files that
    /// must not be overwritten.
    public static func create(_ bytes: [UInt8], at path: String, mode: mode_t = 0o644) throws(WriteError) {
        try write(bytes, to: path, mode: mode, replacing: false)
    }

    private static func write(_ bytes: [UInt8], to path: String, mode: mode_t, replacing: Bool) throws(WriteError) {
        let directory = parentDirectory(of: path)
        try makeDirectories(directory)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let temporary = "\(directory)/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WriteError(description: "cannot write \(path): \(errorText())") }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { buffer in
                Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                let reason = errorText()
                close(fd)
                unlink(temporary)
                throw WriteError(description: "cannot write \(path): \(reason)")
            }
            written += count
        }
        if fsync(fd) != 0 || close(fd) != 0 {
            let reason = errorText()
            unlink(temporary)
            throw WriteError(description: "cannot write \(path): \(reason)")
        }
        if replacing {
            if rename(temporary, path) != 0 {
                let reason = errorText()
                unlink(temporary)
                throw WriteError(description: "cannot write \(path): \(reason)")
            }
        } else {
            let linked = link(temporary, path)
            let code = errno
            unlink(temporary)
            if linked != 0 {
                throw WriteError(description: code == EEXIST ? "\(path) already exists"
                    : "cannot write \(path): \(String(cString: strerror(code)).lowercased())")
            }
        }
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func makeDirectories(_ directory: String) throws(WriteError) {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw WriteError(description: "cannot write into \(directory): not a directory")
            }
            return
        }
        let parent = parentDirectory(of: directory)
        if parent != directory { try makeDirectories(parent) }
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw WriteError(description: "cannot create directory \(directory): \(errorText())")
        }
    }

    private static func errorText() -> String { String(cString: strerror(errno)).lowercased() }
}
